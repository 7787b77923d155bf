// Package services supervises the processes declared by `service` policy
// blocks: it starts each one from its argv (never through a shell) with its
// environment and working directory, captures its output in a log file,
// stops it with its stop signal and grace period, and restarts it when it
// exits, within a restart budget.
//
// The budget works like the supervisors operators already trust: at most
// max_restarts restarts within window; one more exit and the service is
// marked failed, an event says so, and no restart storm follows. A failed
// service is not forgotten: after retry_after it is started once more, and
// if that attempt dies within the window it is failed again.
//
// Restarts requested from outside (a healing strategy, the API) go through
// Restart and count against the same budget unless forced by an operator.
//
// The supervisor keeps no replicated state: which processes run where is a
// fact of this machine, rebuilt from the policy on start.
package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/heady-dev/heady/host/config"
)

// Service states.
const (
	StateStarting = "starting"
	StateRunning  = "running"
	StateStopping = "stopping"
	StateBackoff  = "backoff" // exited; a restart is scheduled
	StateExited   = "exited"  // exited; the restart policy says stay down
	StateFailed   = "failed"  // restart budget exhausted; retried at RetryAt
	StateStopped  = "stopped"
)

// Event types the supervisor reports.
const (
	EventExited    = "service.exited"
	EventRestarted = "service.restarted"
	EventFailed    = "service.failed"
)

// ErrNotFound is returned for a service that no policy declares.
var ErrNotFound = errors.New("no such service")

// ErrBudget is returned by Restart when the restart budget is exhausted.
var ErrBudget = errors.New("restart budget exhausted")

// Status is a snapshot of one supervised service.
type Status struct {
	Name    string   `json:"name"`
	State   string   `json:"state"`
	PID     int      `json:"pid,omitempty"`
	Command []string `json:"command"`
	Restart string   `json:"restart"`
	// Starts counts processes started since the host started.
	Starts int `json:"starts"`
	// Restarts counts restarts (automatic, healing, manual, retries).
	Restarts int `json:"restarts"`
	// WindowRestarts is the restarts within the current budget window.
	WindowRestarts int       `json:"window_restarts"`
	MaxRestarts    int       `json:"max_restarts"`
	Window         string    `json:"window"`
	RetryAfter     string    `json:"retry_after"`
	StartedAt      time.Time `json:"started_at,omitzero"`
	ExitedAt       time.Time `json:"exited_at,omitzero"`
	LastExit       string    `json:"last_exit,omitempty"`
	FailedAt       time.Time `json:"failed_at,omitzero"`
	RetryAt        time.Time `json:"retry_at,omitzero"`
	LogFile        string    `json:"log_file,omitempty"`
	Port           int       `json:"port,omitempty"`
}

// Running reports whether the service has a live process.
func (s Status) Running() bool { return s.State == StateRunning && s.PID > 0 }

// Options configure a Supervisor.
type Options struct {
	// LogDir holds NAME.log for services without a log_file.
	LogDir string
	Logger *slog.Logger
	// Notify receives the supervisor's events in order (service.exited,
	// service.restarted, service.failed); it runs on one goroutine.
	Notify func(ctx context.Context, typ string, data map[string]any)
	// BackoffBase is the delay before the second restart in a row of a
	// process that did not stay up for StartSecs, doubled for each further
	// one (the first restart is immediate); default 100ms, capped at
	// BackoffMax (default 5s).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// StartSecs is how long a process must run to count as started: its
	// exit then restarts it at once (default 1s).
	StartSecs time.Duration
}

// Supervisor runs and watches the declared services.
type Supervisor struct {
	opts   Options
	mu     sync.Mutex
	svcs   map[string]*svc
	closed bool
	events chan event
	done   chan struct{}
}

type event struct {
	typ  string
	data map[string]any
}

// New returns a supervisor with no services; Apply gives it some.
func New(opts Options) *Supervisor {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 100 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 5 * time.Second
	}
	if opts.StartSecs <= 0 {
		opts.StartSecs = time.Second
	}
	s := &Supervisor{opts: opts, svcs: map[string]*svc{}, events: make(chan event, 1024), done: make(chan struct{})}
	go s.dispatch()
	return s
}

func (s *Supervisor) dispatch() {
	defer close(s.done)
	for e := range s.events {
		if s.opts.Notify != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s.opts.Notify(ctx, e.typ, e.data)
			cancel()
		}
	}
}

func (s *Supervisor) emit(typ string, data map[string]any) {
	defer func() { _ = recover() }() // the channel is closed after Close
	select {
	case s.events <- event{typ, data}:
	default:
		s.opts.Logger.Warn("service event dropped: queue full", "type", typ)
	}
}

// Apply reconciles the running services with the declared ones: new
// services start (dependencies first), removed ones stop, changed ones
// restart with their new command; unchanged ones keep running and take the
// new budget settings.
func (s *Supervisor) Apply(ctx context.Context, specs []*config.Service) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("services: supervisor closed")
	}
	want := map[string]*config.Service{}
	for _, sp := range specs {
		want[sp.Name] = sp
	}
	var stop []*svc
	var start []*svc
	for name, v := range s.svcs {
		sp, ok := want[name]
		switch {
		case !ok:
			stop = append(stop, v)
			delete(s.svcs, name)
		case !sameProcess(v.specOf(), sp):
			stop = append(stop, v)
			nv := &svc{sup: s, spec: sp, state: StateStopped}
			s.svcs[name] = nv
			start = append(start, nv)
		default:
			v.mu.Lock()
			v.spec = sp
			v.mu.Unlock()
		}
	}
	for _, sp := range specs {
		if _, ok := s.svcs[sp.Name]; !ok {
			nv := &svc{sup: s, spec: sp, state: StateStopped}
			s.svcs[sp.Name] = nv
			start = append(start, nv)
		}
	}
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, v := range stop {
		wg.Add(1)
		go func() { defer wg.Done(); v.remove(ctx) }()
	}
	wg.Wait()
	var errs []error
	for _, v := range orderByDeps(start) {
		if err := v.firstStart(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sameProcess reports whether two specs describe the same process (budget
// settings may differ).
func sameProcess(a, b *config.Service) bool {
	return slices.Equal(a.Command, b.Command) && reflect.DeepEqual(a.Env, b.Env) && a.Dir == b.Dir && a.LogFile == b.LogFile
}

// orderByDeps puts every service after the services it depends on.
func orderByDeps(vs []*svc) []*svc {
	by := map[string]*svc{}
	for _, v := range vs {
		by[v.spec.Name] = v
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].spec.Name < vs[j].spec.Name })
	var out []*svc
	seen := map[string]bool{}
	var visit func(v *svc)
	visit = func(v *svc) {
		if seen[v.spec.Name] {
			return
		}
		seen[v.spec.Name] = true
		for _, d := range v.spec.DependsOn {
			if dv, ok := by[d]; ok {
				visit(dv)
			}
		}
		out = append(out, v)
	}
	for _, v := range vs {
		visit(v)
	}
	return out
}

func (s *Supervisor) get(name string) (*svc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.svcs[name]
	if !ok {
		return nil, fmt.Errorf("services: %s: %w", name, ErrNotFound)
	}
	return v, nil
}

// Get returns the status of one service.
func (s *Supervisor) Get(name string) (Status, bool) {
	v, err := s.get(name)
	if err != nil {
		return Status{}, false
	}
	return v.status(), true
}

// List returns every service's status, by name.
func (s *Supervisor) List() []Status {
	s.mu.Lock()
	vs := make([]*svc, 0, len(s.svcs))
	for _, v := range s.svcs {
		vs = append(vs, v)
	}
	s.mu.Unlock()
	out := make([]Status, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RestartOptions qualify a Restart.
type RestartOptions struct {
	// Reason is recorded in the service.restarted event.
	Reason string
	// Force restarts even a failed service and clears its budget (an
	// operator's explicit request).
	Force bool
}

// Restart stops the service gracefully (stop signal, then SIGKILL after the
// grace period) and starts it again. It counts against the restart budget:
// when the budget is exhausted the service is marked failed and ErrBudget
// returned, unless o.Force.
func (s *Supervisor) Restart(ctx context.Context, name string, o RestartOptions) (Status, error) {
	v, err := s.get(name)
	if err != nil {
		return Status{}, err
	}
	return v.restart(ctx, o)
}

// Close stops every service and waits for them to exit.
func (s *Supervisor) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	vs := make([]*svc, 0, len(s.svcs))
	for _, v := range s.svcs {
		vs = append(vs, v)
	}
	s.svcs = map[string]*svc{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, v := range vs {
		wg.Add(1)
		go func() { defer wg.Done(); v.remove(ctx) }()
	}
	wg.Wait()
	close(s.events)
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// svc is one supervised service.
type svc struct {
	sup  *Supervisor
	opMu sync.Mutex // serialises restart and remove

	mu        sync.Mutex
	spec      *config.Service
	state     string
	cmd       *exec.Cmd
	pid       int
	done      chan struct{} // closed when the current process has exited
	stopping  bool
	removed   bool
	timer     *time.Timer
	window    []time.Time
	starts    int
	restarts  int
	startedAt time.Time
	exitedAt  time.Time
	failedAt  time.Time
	retryAt   time.Time
	lastExit  string
	// quick counts exits in a row of processes that ran less than
	// StartSecs; it drives the backoff.
	quick int
}

func (v *svc) specOf() *config.Service {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.spec
}

func (v *svc) logPath() string {
	if v.spec.LogFile != "" {
		return v.spec.LogFile
	}
	if v.sup.opts.LogDir == "" {
		return ""
	}
	return filepath.Join(v.sup.opts.LogDir, v.spec.Name+".log")
}

func (v *svc) status() Status {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pruneLocked(time.Now())
	st := Status{Name: v.spec.Name, State: v.state, PID: v.pid, Command: v.spec.Command, Restart: v.spec.Restart,
		Starts: v.starts, Restarts: v.restarts, WindowRestarts: len(v.window), MaxRestarts: v.spec.MaxRestarts,
		Window: v.spec.Window.String(), RetryAfter: v.spec.RetryAfter.String(), StartedAt: v.startedAt, ExitedAt: v.exitedAt,
		LastExit: v.lastExit, FailedAt: v.failedAt, RetryAt: v.retryAt, LogFile: v.logPath(), Port: v.spec.Port}
	if v.state != StateRunning && v.state != StateStopping {
		st.PID = 0
	}
	return st
}

func (v *svc) firstStart() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.removed {
		return nil
	}
	if err := v.startLocked(); err != nil {
		v.sup.opts.Logger.Error("service did not start", "service", v.spec.Name, "err", err)
		v.afterExitLocked(-1)
		return err
	}
	return nil
}

// startLocked starts a new process. Caller holds v.mu.
func (v *svc) startLocked() error {
	sp := v.spec
	if v.cmd != nil {
		return nil // already running
	}
	if len(sp.Command) == 0 {
		return fmt.Errorf("services: %s: no command", sp.Name)
	}
	cmd := exec.Command(sp.Command[0], sp.Command[1:]...)
	cmd.Dir = sp.Dir
	env := os.Environ()
	keys := make([]string, 0, len(sp.Env))
	for k := range sp.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+sp.Env[k])
	}
	cmd.Env = env
	cmd.SysProcAttr = procAttr()
	var logf *os.File
	if p := v.logPath(); p != "" {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
			logf, _ = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		}
	}
	if logf != nil {
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	v.starts++
	if err := cmd.Start(); err != nil {
		if logf != nil {
			_ = logf.Close()
		}
		v.lastExit = "start failed: " + err.Error()
		v.exitedAt = time.Now()
		v.state, v.pid, v.cmd = StateExited, 0, nil
		return fmt.Errorf("services: %s: start: %w", sp.Name, err)
	}
	done := make(chan struct{})
	v.cmd, v.pid, v.done, v.state, v.startedAt = cmd, cmd.Process.Pid, done, StateRunning, time.Now()
	v.sup.opts.Logger.Info("service started", "service", sp.Name, "pid", v.pid)
	go v.wait(cmd, done, logf)
	return nil
}

func (v *svc) wait(cmd *exec.Cmd, done chan struct{}, logf *os.File) {
	err := cmd.Wait()
	pid := cmd.Process.Pid
	_ = signalGroup(pid, syscall.SIGKILL) // whatever the service left behind in its group
	if logf != nil {
		_ = logf.Close()
	}
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	desc := "exited with status 0"
	if err != nil {
		desc = err.Error()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.exitedAt, v.lastExit = time.Now(), desc
	if v.exitedAt.Sub(v.startedAt) < v.sup.opts.StartSecs {
		v.quick++
	} else {
		v.quick = 0
	}
	close(done)
	if v.cmd != cmd {
		return
	}
	v.cmd, v.pid = nil, 0
	if v.stopping || v.removed {
		return
	}
	v.state = StateExited
	v.sup.opts.Logger.Warn("service exited", "service", v.spec.Name, "pid", pid, "exit", desc)
	v.sup.emit(EventExited, map[string]any{"service": v.spec.Name, "pid": pid, "exit": desc, "exit_code": code,
		"restart": v.restartsOn(code)})
	v.afterExitLocked(code)
}

// restartsOn reports whether the restart policy restarts a process that
// exited with code.
func (v *svc) restartsOn(code int) bool {
	switch v.spec.Restart {
	case "never":
		return false
	case "on_failure":
		return code != 0
	}
	return true
}

// afterExitLocked applies the restart policy to an unexpected exit.
func (v *svc) afterExitLocked(code int) {
	if !v.restartsOn(code) {
		return
	}
	now := time.Now()
	if !v.takeBudgetLocked(now) {
		v.failLocked(now)
		return
	}
	delay := v.backoffLocked()
	v.state = StateBackoff
	v.timer = time.AfterFunc(delay, func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.removed || v.state != StateBackoff {
			return
		}
		v.restarts++
		if err := v.startLocked(); err != nil {
			v.sup.opts.Logger.Error("service restart failed", "service", v.spec.Name, "err", err)
			v.afterExitLocked(-1)
			return
		}
		v.sup.emit(EventRestarted, map[string]any{"service": v.spec.Name, "pid": v.pid, "reason": "exited: " + v.lastExit,
			"restarts": v.restarts, "window_restarts": len(v.window)})
	})
}

func (v *svc) pruneLocked(now time.Time) {
	keep := v.window[:0]
	for _, t := range v.window {
		if now.Sub(t) < v.spec.Window {
			keep = append(keep, t)
		}
	}
	v.window = keep
}

// takeBudgetLocked counts one restart if the budget allows it.
func (v *svc) takeBudgetLocked(now time.Time) bool {
	v.pruneLocked(now)
	if len(v.window) >= v.spec.MaxRestarts {
		return false
	}
	v.window = append(v.window, now)
	return true
}

// backoffLocked is the delay before a restart: none after a process that
// ran for StartSecs or for the first quick exit, then BackoffBase doubling
// up to BackoffMax for each further quick exit in a row.
func (v *svc) backoffLocked() time.Duration {
	n := v.quick - 1
	if n <= 0 {
		return 0
	}
	d := v.sup.opts.BackoffBase
	for i := 1; i < n && d < v.sup.opts.BackoffMax; i++ {
		d *= 2
	}
	return min(d, v.sup.opts.BackoffMax)
}

// failLocked marks the service failed and schedules the slow retry.
func (v *svc) failLocked(now time.Time) {
	v.state, v.failedAt = StateFailed, now
	v.retryAt = time.Time{}
	if v.spec.RetryAfter > 0 {
		v.retryAt = now.Add(v.spec.RetryAfter)
		v.timer = time.AfterFunc(v.spec.RetryAfter, v.retry)
	}
	v.sup.opts.Logger.Error("service failed: restart budget exhausted", "service", v.spec.Name,
		"max_restarts", v.spec.MaxRestarts, "window", v.spec.Window, "retry_at", v.retryAt)
	data := map[string]any{"service": v.spec.Name, "restarts": len(v.window), "max_restarts": v.spec.MaxRestarts,
		"window": v.spec.Window.String(), "last_exit": v.lastExit}
	if !v.retryAt.IsZero() {
		data["retry_at"] = v.retryAt.UTC().Format(time.RFC3339Nano)
	}
	v.sup.emit(EventFailed, data)
}

// retry starts a failed service once more. The budget is left full, so a
// process that dies again within the window is failed again at once.
func (v *svc) retry() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.removed || v.state != StateFailed {
		return
	}
	now := time.Now()
	v.window = v.window[:0]
	for range max(v.spec.MaxRestarts, 1) {
		v.window = append(v.window, now)
	}
	v.retryAt = time.Time{}
	v.restarts++
	if err := v.startLocked(); err != nil {
		v.afterExitLocked(-1)
		return
	}
	v.sup.opts.Logger.Info("service retried after failure", "service", v.spec.Name, "pid", v.pid)
	v.sup.emit(EventRestarted, map[string]any{"service": v.spec.Name, "pid": v.pid, "reason": "retry after failure",
		"restarts": v.restarts})
}

// stopProcess stops the current process, if any, and waits for it to exit.
// Caller holds opMu, not mu.
func (v *svc) stopProcess(ctx context.Context) {
	v.mu.Lock()
	if v.timer != nil {
		v.timer.Stop()
		v.timer = nil
	}
	if v.state == StateBackoff {
		v.state = StateStopped
	}
	cmd, done, pid := v.cmd, v.done, v.pid
	if cmd == nil {
		v.mu.Unlock()
		return
	}
	v.stopping, v.state = true, StateStopping
	sig, ok := signals[v.spec.StopSignal]
	if !ok {
		sig = syscall.SIGTERM
	}
	grace := v.spec.StopTimeout
	v.mu.Unlock()

	_ = signalGroup(pid, sig)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = signalGroup(pid, syscall.SIGKILL)
		<-done
	case <-ctx.Done():
		_ = signalGroup(pid, syscall.SIGKILL)
		<-done
	}
	v.mu.Lock()
	v.stopping, v.state = false, StateStopped
	v.mu.Unlock()
}

func (v *svc) restart(ctx context.Context, o RestartOptions) (Status, error) {
	v.opMu.Lock()
	defer v.opMu.Unlock()
	v.mu.Lock()
	if v.removed {
		v.mu.Unlock()
		return Status{}, fmt.Errorf("services: %s: %w", v.spec.Name, ErrNotFound)
	}
	now := time.Now()
	name, maxR, window, retryAt := v.spec.Name, v.spec.MaxRestarts, v.spec.Window, v.retryAt
	if !o.Force {
		if v.state == StateFailed {
			v.mu.Unlock()
			return v.status(), fmt.Errorf("services: %s: %w (failed; next try at %s)", name, ErrBudget, retryAt.UTC().Format(time.RFC3339))
		}
		if !v.takeBudgetLocked(now) {
			v.failLocked(now)
			v.mu.Unlock()
			return v.status(), fmt.Errorf("services: %s: %w (%d restarts within %s)", name, ErrBudget, maxR, window)
		}
	}
	v.mu.Unlock()

	v.stopProcess(ctx)

	v.mu.Lock()
	if o.Force {
		v.window, v.failedAt, v.retryAt = nil, time.Time{}, time.Time{}
	}
	if v.timer != nil {
		v.timer.Stop()
		v.timer = nil
	}
	v.restarts++
	err := v.startLocked()
	if err != nil {
		v.afterExitLocked(-1)
	} else {
		reason := o.Reason
		if reason == "" {
			reason = "requested"
		}
		v.sup.emit(EventRestarted, map[string]any{"service": v.spec.Name, "pid": v.pid, "reason": reason,
			"restarts": v.restarts, "window_restarts": len(v.window)})
	}
	v.mu.Unlock()
	return v.status(), err
}

// remove stops the service for good.
func (v *svc) remove(ctx context.Context) {
	v.opMu.Lock()
	defer v.opMu.Unlock()
	v.mu.Lock()
	v.removed = true
	v.mu.Unlock()
	v.stopProcess(ctx)
	v.mu.Lock()
	if v.timer != nil {
		v.timer.Stop()
	}
	v.state = StateStopped
	v.mu.Unlock()
}
