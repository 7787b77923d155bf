package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/store"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Options configure an Engine.
type Options struct {
	// Actions runs every action whose name is not registered in-process.
	Actions ActionRunner
	Auditor Auditor
	Logger  *slog.Logger
	// Workers caps concurrent action calls (default 2×CPU, at least 4).
	Workers int
	// EventQueue caps accepted but undispatched events (default 100000).
	EventQueue int
	// MaxActive caps executions the event dispatcher keeps running at once;
	// beyond it events wait in the inbox (default 4096).
	MaxActive int
	Now       func() time.Time
	Vars      map[string]cty.Value
	Env       func(string) (string, bool)
	// DefaultStepTimeout applies to steps without a timeout (default 5m).
	DefaultStepTimeout time.Duration
	HistoryMaxAge      time.Duration
	HistoryMaxCount    int
}

// Engine runs workflows. Create it with New, give it a policy with SetPolicy,
// then Start it; Stop ends it.
type Engine struct {
	st    *store.Store
	opts  Options
	log   *slog.Logger
	inbox *events.Inbox
	funcs map[string]function.Function

	actionsMu sync.RWMutex
	actions   map[string]ActionFunc

	pol atomic.Pointer[compiled]

	mu        sync.Mutex
	runs      map[string]*run
	wst       map[string]*wfState
	active    int // running executions started by the dispatcher path
	activeSig chan struct{}

	subsMu  sync.RWMutex
	subs    map[int]func(Update)
	subN    int
	hasSubs atomic.Bool

	workers chan struct{}

	started   atomic.Bool
	stopping  atomic.Bool
	stopCh    chan struct{}
	runCtx    context.Context
	hardStop  context.CancelFunc
	bg        sync.WaitGroup
	runsWG    sync.WaitGroup
	schedWake chan struct{}

	succeeded, failed, cancelled atomic.Int64
}

// wfState is the live concurrency state of one workflow.
type wfState struct {
	running   map[*run]struct{}
	queue     []*run
	reserved  int
	succeeded int64
	failed    int64
	cancelled int64
	last      *ExecutionSummary
}

// New returns an engine over st. Nothing runs until Start.
func New(st *store.Store, opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Workers <= 0 {
		opts.Workers = max(4, 2*runtime.NumCPU())
	}
	if opts.MaxActive <= 0 {
		opts.MaxActive = 4096
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	if opts.DefaultStepTimeout <= 0 {
		opts.DefaultStepTimeout = 5 * time.Minute
	}
	e := &Engine{
		st: st, opts: opts, log: opts.Logger,
		inbox:     events.NewInbox(st, events.Options{Limit: opts.EventQueue, Now: opts.Now}),
		funcs:     config.Functions(opts.Env),
		actions:   map[string]ActionFunc{},
		runs:      map[string]*run{},
		wst:       map[string]*wfState{},
		activeSig: make(chan struct{}, 1),
		subs:      map[int]func(Update){},
		workers:   make(chan struct{}, opts.Workers),
		stopCh:    make(chan struct{}),
		schedWake: make(chan struct{}, 1),
	}
	e.runCtx, e.hardStop = context.WithCancel(context.Background())
	e.pol.Store(&compiled{wfs: map[string]*wfDef{}, hooks: map[string]*config.Webhook{}})
	e.RegisterAction("heady.noop", func(_ context.Context, c ActionCall) (ActionResult, error) {
		return ActionResult{Outputs: c.Inputs}, nil
	})
	return e
}

func (e *Engine) now() time.Time { return e.opts.Now().UTC() }

// Inbox is the engine's durable event inbox.
func (e *Engine) Inbox() *events.Inbox { return e.inbox }

// RegisterAction registers an in-process action. Names under "heady." never
// go to the ActionRunner. heady.noop (returns its inputs as outputs) is
// registered by New.
func (e *Engine) RegisterAction(name string, fn ActionFunc) {
	e.actionsMu.Lock()
	e.actions[name] = fn
	e.actionsMu.Unlock()
}

func (e *Engine) callAction(ctx context.Context, call ActionCall) (ActionResult, error) {
	e.actionsMu.RLock()
	fn := e.actions[call.Action]
	e.actionsMu.RUnlock()
	if fn == nil {
		if strings.HasPrefix(call.Action, "heady.") {
			return ActionResult{ErrorCode: "unknown_action", ErrorMessage: "no in-process action " + call.Action}, nil
		}
		if e.opts.Actions == nil {
			return ActionResult{ErrorCode: "unknown_action", ErrorMessage: "no action runner for " + call.Action}, nil
		}
		fn = e.opts.Actions.RunAction
	}
	type out struct {
		res ActionResult
		err error
	}
	ch := make(chan out, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				ch <- out{err: fmt.Errorf("action %s panicked: %v", call.Action, p)}
			}
		}()
		res, err := fn(ctx, call)
		ch <- out{res, err}
	}()
	// An action that ignores its context still ends at its deadline.
	select {
	case o := <-ch:
		return o.res, o.err
	case <-ctx.Done():
		return ActionResult{}, ctx.Err()
	}
}

func (e *Engine) acquireWorker(ctx context.Context) error {
	select {
	case e.workers <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engine) releaseWorker() { <-e.workers }

// Subscribe registers fn for live updates; fn must not block. The returned
// function unsubscribes.
func (e *Engine) Subscribe(fn func(Update)) (unsubscribe func()) {
	e.subsMu.Lock()
	e.subN++
	id := e.subN
	e.subs[id] = fn
	e.hasSubs.Store(true)
	e.subsMu.Unlock()
	return func() {
		e.subsMu.Lock()
		delete(e.subs, id)
		e.hasSubs.Store(len(e.subs) > 0)
		e.subsMu.Unlock()
	}
}

func (e *Engine) publish(u Update) {
	e.subsMu.RLock()
	defer e.subsMu.RUnlock()
	for _, fn := range e.subs {
		fn(u)
	}
}

func (e *Engine) audit(r AuditRecord) {
	if e.opts.Auditor != nil {
		e.opts.Auditor.Record(context.Background(), r)
	}
}

// SetPolicy installs a new policy version. Workflows that fail to compile
// are left out and reported in the returned error; the rest take effect.
// Running executions keep the definition they started with.
func (e *Engine) SetPolicy(p *config.Policy) error {
	c, err := compilePolicy(p)
	e.pol.Store(c)
	select {
	case e.schedWake <- struct{}{}:
	default:
	}
	if e.started.Load() {
		// A raised concurrency limit may free slots for queued executions.
		e.mu.Lock()
		names := sortedNames(e.wst)
		e.mu.Unlock()
		for _, n := range names {
			e.pump(n)
		}
	}
	if err != nil {
		return fmt.Errorf("workflow: policy: %w", err)
	}
	return nil
}

// Start resumes unfinished executions, dispatches pending events, catches up
// schedules and starts the dispatcher and the scheduler.
func (e *Engine) Start(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("workflow: start: already started")
	}
	if err := e.loadLast(); err != nil {
		return fmt.Errorf("workflow: start: %w", err)
	}
	if err := e.resume(ctx); err != nil {
		return fmt.Errorf("workflow: start: resume: %w", err)
	}
	if _, err := e.inbox.Recover(ctx); err != nil {
		return fmt.Errorf("workflow: start: recover events: %w", err)
	}
	if err := e.catchUp(ctx); err != nil {
		return fmt.Errorf("workflow: start: schedules: %w", err)
	}
	e.bg.Add(2)
	go e.dispatcher()
	go e.scheduler()
	return nil
}

// Stop stops taking work and waits for running attempts to end, up to ctx.
// Executions that did not finish stay recorded and resume on the next Start.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.started.Load() {
		return nil
	}
	e.mu.Lock()
	if !e.stopping.CompareAndSwap(false, true) {
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	close(e.stopCh)
	e.inbox.Close()
	done := make(chan struct{})
	go func() {
		e.bg.Wait()
		e.runsWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("workflow: stop: %w", ctx.Err())
	}
	e.hardStop()
	<-done
	return err
}

// AcceptEvent stores ev durably and returns its ID; matching workflows start
// asynchronously. It returns an error matching events.ErrBackpressure when too
// many events wait for dispatch.
func (e *Engine) AcceptEvent(ctx context.Context, ev events.Event) (string, error) {
	if ev.Source == "" {
		ev.Source = "api"
	}
	return e.inbox.Accept(ctx, ev)
}

// Emit stores an event produced by the host itself (never refused for
// backpressure).
func (e *Engine) Emit(ctx context.Context, ev events.Event) (string, error) {
	if ev.Source == "" {
		ev.Source = "host"
	}
	return e.inbox.Emit(ctx, ev)
}

// Webhook returns the webhook block named name in the current policy.
func (e *Engine) Webhook(name string) (*config.Webhook, bool) {
	h, ok := e.pol.Load().hooks[name]
	return h, ok
}

// AcceptWebhook verifies an inbound webhook request and accepts its JSON
// body as an event of the hook's type. Rejections are audited
// ("webhook.rejected") and wrap events.ErrUnauthorized; an unknown hook is
// ErrNotFound.
func (e *Engine) AcceptWebhook(ctx context.Context, name string, headers func(string) string, body []byte, remote string) (string, error) {
	hook, ok := e.Webhook(name)
	if !ok {
		e.audit(AuditRecord{Actor: remote, Action: "webhook.rejected", ResourceType: "webhook", ResourceID: name, Outcome: "denied", Details: map[string]any{"reason": "unknown webhook"}})
		return "", fmt.Errorf("workflow: webhook %s: %w", name, ErrNotFound)
	}
	if err := events.VerifyWebhook(hook, headers, body); err != nil {
		e.audit(AuditRecord{Actor: remote, Action: "webhook.rejected", ResourceType: "webhook", ResourceID: name, Outcome: "denied", Details: map[string]any{"reason": err.Error()}})
		return "", err
	}
	data := map[string]any{}
	if len(strings.TrimSpace(string(body))) > 0 {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return "", fmt.Errorf("workflow: webhook %s: body is not JSON: %w", name, err)
		}
		if m, ok := v.(map[string]any); ok {
			data = m
		} else {
			data["body"] = v
		}
	}
	return e.inbox.Accept(ctx, events.Event{Type: events.WebhookEventType(hook), Data: data, Source: "webhook:" + name})
}

// Execute starts workflow name manually with context as event.data (event.type
// is "manual"). It returns once the execution is durably created.
func (e *Engine) Execute(ctx context.Context, name string, execCtx map[string]any, actor string) (string, error) {
	if !e.started.Load() || e.stopping.Load() {
		return "", ErrStopped
	}
	def, ok := e.pol.Load().wfs[name]
	if !ok {
		return "", fmt.Errorf("workflow %s: %w", name, ErrNotFound)
	}
	if !def.cfg.Enabled {
		return "", fmt.Errorf("workflow %s: %w", name, ErrDisabled)
	}
	now := e.now()
	ev := EventInfo{ID: events.NewID(now), Type: "manual", Source: "manual", Time: now, Data: execCtx}
	a := &admission{def: def, trig: TriggerInfo{Kind: "manual", Actor: actor}, event: ev}
	if err := e.create(ctx, []*admission{a}, nil, false); err != nil {
		return "", err
	}
	outcome := "success"
	if a.err != nil {
		outcome = "failure"
	}
	e.audit(AuditRecord{Actor: actor, Action: "workflow.execute", ResourceType: "workflow", ResourceID: name, Outcome: outcome,
		Details: map[string]any{"execution_id": a.id, "context": execCtx}})
	if a.err != nil {
		return "", a.err
	}
	return a.id, nil
}

// Cancel cancels a pending or running execution and waits (up to ctx) until
// it is recorded as cancelled.
func (e *Engine) Cancel(ctx context.Context, id, actor string) error {
	e.mu.Lock()
	r := e.runs[id]
	if r == nil {
		e.mu.Unlock()
		var h header
		if err := e.st.GetRecord(hKey(id), &h); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("execution %s: %w", id, ErrNotFound)
			}
			return err
		}
		return fmt.Errorf("execution %s is %s: %w", id, h.Status, ErrConflict)
	}
	ws := e.wst[r.h.Workflow]
	queued := false
	for i, q := range ws.queue {
		if q == r {
			ws.queue = append(ws.queue[:i], ws.queue[i+1:]...)
			queued = true
			break
		}
	}
	if queued {
		delete(e.runs, id)
	}
	e.mu.Unlock()
	e.audit(AuditRecord{Actor: actor, Action: "execution.cancel", ResourceType: "execution", ResourceID: id, Outcome: "success", Details: map[string]any{"workflow": r.h.Workflow}})
	if queued {
		h := r.h
		h.Status = StatusCancelled
		h.EndedAt = e.now()
		h.Error = &ErrorInfo{Code: "cancelled", Message: "cancelled by " + actor}
		if err := e.st.Apply(ctx, putHeader(&h), store.Delete(activeKey(id))); err != nil {
			return fmt.Errorf("workflow: cancel %s: %w", id, err)
		}
		e.publish(Update{ExecutionID: id, Workflow: h.Workflow, Status: StatusCancelled, Time: h.EndedAt, Error: h.Error})
		e.runFinished(r, &h)
		return nil
	}
	r.requestCancel(fmt.Errorf("%w by %s", errUserCancel, actor))
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Retry starts a new execution of a failed or cancelled one that reuses the
// outputs of its succeeded steps and runs again from the failed step, on the
// workflow's current definition.
func (e *Engine) Retry(ctx context.Context, id, actor string) (string, error) {
	if !e.started.Load() || e.stopping.Load() {
		return "", ErrStopped
	}
	old, err := loadExecution(e.st, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("execution %s: %w", id, ErrNotFound)
		}
		return "", err
	}
	if old.h.Status != StatusFailed && old.h.Status != StatusCancelled {
		return "", fmt.Errorf("execution %s is %s: %w", id, old.h.Status, ErrConflict)
	}
	def, ok := e.pol.Load().wfs[old.h.Workflow]
	if !ok {
		return "", fmt.Errorf("workflow %s: %w", old.h.Workflow, ErrNotFound)
	}
	a := &admission{def: def, trig: TriggerInfo{Kind: "retry", Actor: actor, RetryOf: id, EventID: old.h.Trigger.EventID, EventType: old.h.Trigger.EventType}, event: old.h.Event}
	a.prior = &stored{steps: map[string]*StepState{}, attempts: map[string]map[int][]*Attempt{}}
	for k, ss := range old.steps {
		if !strings.HasPrefix(k, "m.") || (ss.Status != StatusSucceeded && ss.Status != StatusSkipped) {
			continue
		}
		if _, ok := def.main.index[ss.Name]; !ok {
			continue
		}
		cp := *ss
		if cp.ReusedFrom == "" {
			cp.ReusedFrom = id
		}
		a.prior.steps[k] = &cp
	}
	if err := e.create(ctx, []*admission{a}, nil, false); err != nil {
		return "", err
	}
	e.audit(AuditRecord{Actor: actor, Action: "execution.retry", ResourceType: "execution", ResourceID: id, Outcome: outcomeOf(a.err),
		Details: map[string]any{"new_execution_id": a.id, "workflow": old.h.Workflow}})
	if a.err != nil {
		return "", a.err
	}
	return a.id, nil
}

func outcomeOf(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

// Get returns an execution with its steps and attempts.
func (e *Engine) Get(ctx context.Context, id string) (*Execution, error) {
	s, err := loadExecution(e.st, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("execution %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("workflow: get %s: %w", id, err)
	}
	return s.execution(e.pol.Load().wfs[s.h.Workflow]), nil
}

// List returns executions newest first, and the cursor of the next page ("" at
// the end).
func (e *Engine) List(ctx context.Context, f ListFilter) ([]ExecutionSummary, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		limit = 1000
	}
	prefix := prefixHeader
	if f.Workflow != "" {
		prefix = prefixWfIdx + f.Workflow + "/"
	}
	after := ""
	if f.Cursor != "" {
		after = prefix + f.Cursor
	}
	var out []ExecutionSummary
	next := ""
	err := e.st.Scan(store.ScanOptions{Prefix: prefix, After: after, Reverse: true, KeysOnly: f.Workflow != ""}, func(k string, v []byte) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		id := strings.TrimPrefix(k, prefix)
		var h header
		if f.Workflow != "" {
			if err := e.st.GetRecord(hKey(id), &h); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return true, nil
				}
				return false, err
			}
		} else if err := store.Decode(v, &h); err != nil {
			return false, err
		}
		if f.Status != "" && h.Status != f.Status {
			return true, nil
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			return false, nil
		}
		out = append(out, h.summary())
		return true, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("workflow: list: %w", err)
	}
	return out, next, nil
}

// Workflows describes every loaded workflow in policy order.
func (e *Engine) Workflows() []WorkflowInfo {
	pol := e.pol.Load()
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]WorkflowInfo, 0, len(pol.order))
	for _, name := range pol.order {
		d := pol.wfs[name]
		wi := WorkflowInfo{Name: name, Description: d.cfg.Description, Enabled: d.cfg.Enabled}
		for _, s := range d.cfg.Steps {
			wi.Steps = append(wi.Steps, s.Name)
		}
		for _, t := range d.triggers {
			wi.Triggers = append(wi.Triggers, TriggerSummary{Kind: string(t.cfg.Kind), Text: t.text})
			if t.sched != nil && d.cfg.Enabled {
				n := t.sched.Next(now.In(t.loc))
				if wi.NextRun.IsZero() || n.Before(wi.NextRun) {
					wi.NextRun = n.UTC()
				}
			}
		}
		if ws := e.wst[name]; ws != nil {
			wi.Running = len(ws.running)
			wi.Queued = len(ws.queue) + ws.reserved
			wi.Succeeded, wi.Failed, wi.Cancelled = ws.succeeded, ws.failed, ws.cancelled
			if ws.last != nil {
				l := *ws.last
				wi.LastRun = &l
			}
		}
		out = append(out, wi)
	}
	return out
}

// Stats returns engine totals.
func (e *Engine) Stats() Stats {
	pol := e.pol.Load()
	s := Stats{Triggers: pol.triggers, Succeeded: e.succeeded.Load(), Failed: e.failed.Load(), Cancelled: e.cancelled.Load(), EventsPending: e.inbox.Pending()}
	for _, d := range pol.wfs {
		if d.cfg.Enabled {
			s.ActiveWorkflows++
		}
	}
	e.mu.Lock()
	for _, ws := range e.wst {
		s.Running += len(ws.running)
		s.Queued += len(ws.queue) + ws.reserved
	}
	e.mu.Unlock()
	return s
}

// loadLast reads the latest execution of every workflow (for Workflows).
func (e *Engine) loadLast() error {
	for _, name := range e.pol.Load().order {
		var last *ExecutionSummary
		err := e.st.Scan(store.ScanOptions{Prefix: prefixWfIdx + name + "/", Reverse: true, KeysOnly: true, Limit: 1}, func(k string, _ []byte) (bool, error) {
			var h header
			if err := e.st.GetRecord(hKey(strings.TrimPrefix(k, prefixWfIdx+name+"/")), &h); err == nil {
				s := h.summary()
				last = &s
			}
			return false, nil
		})
		if err != nil {
			return err
		}
		if last != nil {
			e.mu.Lock()
			e.state(name).last = last
			e.mu.Unlock()
		}
	}
	return nil
}

// state returns the live state of a workflow; e.mu must be held.
func (e *Engine) state(name string) *wfState {
	ws := e.wst[name]
	if ws == nil {
		ws = &wfState{running: map[*run]struct{}{}}
		e.wst[name] = ws
	}
	return ws
}

// resume restarts every unfinished execution recorded in the store.
func (e *Engine) resume(ctx context.Context) error {
	var ids []string
	err := e.st.Scan(store.ScanOptions{Prefix: prefixActive, KeysOnly: true}, func(k string, _ []byte) (bool, error) {
		ids = append(ids, strings.TrimPrefix(k, prefixActive))
		return true, nil
	})
	if err != nil {
		return err
	}
	pol := e.pol.Load()
	var start []*run
	for _, id := range ids {
		s, err := loadExecution(e.st, id)
		if errors.Is(err, store.ErrNotFound) {
			_ = e.st.Apply(ctx, store.Delete(activeKey(id)))
			continue
		}
		if err != nil {
			return fmt.Errorf("load %s: %w", id, err)
		}
		if s.h.Status.Finished() {
			_ = e.st.Apply(ctx, store.Delete(activeKey(id)))
			continue
		}
		r := newRun(e, pol.wfs[s.h.Workflow], s.h)
		r.prior = s
		e.mu.Lock()
		ws := e.state(s.h.Workflow)
		e.runs[id] = r
		if s.h.Status == StatusPending {
			ws.queue = append(ws.queue, r)
		} else {
			ws.running[r] = struct{}{}
			start = append(start, r)
		}
		e.mu.Unlock()
	}
	for _, r := range start {
		e.startRun(r)
	}
	for name := range e.wst {
		e.pump(name)
	}
	return nil
}

func (e *Engine) startRun(r *run) {
	e.mu.Lock()
	if e.stopping.Load() {
		// Recorded but not started: it resumes on the next Start.
		e.mu.Unlock()
		return
	}
	e.runsWG.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.runsWG.Done()
		r.loop()
	}()
}

// runFinished releases an execution's concurrency slot once its final
// transition is durable.
func (e *Engine) runFinished(r *run, h *header) {
	e.mu.Lock()
	ws := e.state(h.Workflow)

	delete(ws.running, r)
	delete(e.runs, h.ID)
	switch h.Status {
	case StatusSucceeded:
		ws.succeeded++
		e.succeeded.Add(1)
	case StatusFailed:
		ws.failed++
		e.failed.Add(1)
	case StatusCancelled:
		ws.cancelled++
		e.cancelled.Add(1)
	}
	s := h.summary()
	if ws.last == nil || ws.last.ID <= s.ID {
		ws.last = &s
	}
	if r.dispatched {
		e.active--
	}
	e.mu.Unlock()
	if r.dispatched {
		select {
		case e.activeSig <- struct{}{}:
		default:
		}
	}
	details := map[string]any{"workflow": h.Workflow, "trigger": h.Trigger.Kind, "duration_ms": h.EndedAt.Sub(h.StartedAt).Milliseconds()}
	if h.Trigger.EventID != "" {
		details["event_id"] = h.Trigger.EventID
	}
	if h.Error != nil {
		details["error"] = errText(h.Error)
	}
	outcome := "success"
	if h.Status != StatusSucceeded {
		outcome = "failure"
	}
	actor := h.Trigger.Actor
	if actor == "" {
		actor = "system"
	}
	e.audit(AuditRecord{Actor: actor, Action: "execution." + string(h.Status), ResourceType: "execution", ResourceID: h.ID, Outcome: outcome, Details: details})
	e.pump(h.Workflow)
}

// pump starts queued executions of workflow name while slots are free.
func (e *Engine) pump(name string) {
	if e.stopping.Load() {
		return
	}
	for {
		e.mu.Lock()
		ws := e.state(name)
		limit := e.limitOf(name)
		if len(ws.queue) == 0 || (limit > 0 && len(ws.running) >= limit) {
			e.mu.Unlock()
			return
		}
		r := ws.queue[0]
		ws.queue = ws.queue[1:]
		ws.running[r] = struct{}{}
		e.mu.Unlock()
		e.startRun(r)
	}
}

func (e *Engine) limitOf(name string) int {
	if d, ok := e.pol.Load().wfs[name]; ok {
		return d.cfg.Concurrency.Limit
	}
	return 0
}

// Prune deletes finished executions older than maxAge and, per workflow,
// beyond the newest maxCount. Zero disables either bound; with both zero the
// Options' HistoryMaxAge and HistoryMaxCount apply. It returns how many
// executions it deleted. Unfinished executions are never pruned.
func (e *Engine) Prune(ctx context.Context, maxAge time.Duration, maxCount int) (int, error) {
	if maxAge <= 0 && maxCount <= 0 {
		maxAge, maxCount = e.opts.HistoryMaxAge, e.opts.HistoryMaxCount
	}
	if maxAge <= 0 && maxCount <= 0 {
		return 0, nil
	}
	cutoff := e.now().Add(-maxAge)
	perWf := map[string]int{}
	var victims []header
	err := e.st.Scan(store.ScanOptions{Prefix: prefixHeader, Reverse: true}, func(k string, v []byte) (bool, error) {
		var h header
		if err := store.Decode(v, &h); err != nil {
			return true, nil
		}
		if !h.Status.Finished() {
			return true, nil
		}
		perWf[h.Workflow]++
		ended := h.EndedAt
		if ended.IsZero() {
			ended = h.CreatedAt
		}
		if (maxAge > 0 && ended.Before(cutoff)) || (maxCount > 0 && perWf[h.Workflow] > maxCount) {
			victims = append(victims, h)
		}
		return ctx.Err() == nil, nil
	})
	if err != nil {
		return 0, fmt.Errorf("workflow: prune: %w", err)
	}
	var ops []store.Op
	flush := func() error {
		if len(ops) == 0 {
			return nil
		}
		err := e.st.Apply(ctx, ops...)
		ops = nil
		return err
	}
	for _, h := range victims {
		ops = append(ops, store.Delete(hKey(h.ID)), store.Delete(wfIdxKey(h.Workflow, h.ID)), store.Delete(activeKey(h.ID)))
		for _, p := range []string{prefixStep + h.ID + "/", prefixAttempt + h.ID + "/"} {
			if err := e.st.Scan(store.ScanOptions{Prefix: p, KeysOnly: true}, func(k string, _ []byte) (bool, error) {
				ops = append(ops, store.Delete(k))
				return true, nil
			}); err != nil {
				return 0, fmt.Errorf("workflow: prune: %w", err)
			}
		}
		if len(ops) >= 1000 {
			if err := flush(); err != nil {
				return 0, fmt.Errorf("workflow: prune: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return 0, fmt.Errorf("workflow: prune: %w", err)
	}
	return len(victims), nil
}

// sortedNames returns map keys in order.
func sortedNames[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// varsOf is the var.* object a definition's expressions see: the variables
// of the policy version it was compiled from, else Options.Vars.
func (e *Engine) varsOf(d *wfDef) cty.Value {
	if d != nil && d.vars != nil {
		return objOrEmpty(d.vars)
	}
	return objOrEmpty(e.opts.Vars)
}
