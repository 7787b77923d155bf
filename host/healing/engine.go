// Package healing is Heady's self-healing engine: it runs the health checks
// of `check` policy blocks on their intervals, decides with flap protection
// when a component is unhealthy (failures_before_unhealthy failures in a
// row) and healthy again (successes_before_healthy successes in a row), and
// heals it by trying the check's `heal` strategies in order: one strategy,
// and when the check still fails at its next run, the next one, and so on
// up to the alert at the end of the chain.
//
// Every unhealthy period is an incident, stored through the single write
// path with each healing attempt (strategy, attempt, outcome, duration) so
// the history survives restarts. Healing has a budget like a service's
// restarts: at most HealBudget attempts that did not heal within
// HealWindow per check (an attempt followed by recovery gives its place
// back; restarts of a supervised service also count against the
// service's own budget); when
// the budget or the chain is exhausted the engine stops trying, raises an
// alert and tries the chain once more after RetryAfter.
//
// The strategies themselves are healer plugins, reached through the Healer
// interface; the engine knows nothing of how a service is restarted or a
// cache cleared.
package healing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/oklog/ulid/v2"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/services"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/sdk"
)

// Check statuses.
const (
	StatusPending   = "pending" // not yet healthy, not yet failed enough
	StatusHealthy   = "healthy"
	StatusUnhealthy = "unhealthy"
)

// Attempt outcomes.
const (
	OutcomePending   = "pending" // applied; the next check run decides
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeNotified  = "notified" // an alert strategy: nothing to heal
	// OutcomeUnverified: the host stopped before the next check run.
	OutcomeUnverified = "unverified"
)

// Events the engine emits.
const (
	EventUnhealthy        = "health.unhealthy"
	EventRecovered        = "health.recovered"
	EventHealingSucceeded = "healing.succeeded"
	EventHealingFailed    = "healing.failed"
)

// ErrNotFound is returned for a check no policy declares.
var ErrNotFound = errors.New("no such check")

// Healer applies one healing strategy ("restart", "clear_caches", or
// "PLUGIN.COMPONENT") to an incident.
type Healer interface {
	Heal(ctx context.Context, strategy string, inc sdk.Incident) (sdk.Outcome, error)
}

// ServiceView reports supervised services for process checks.
type ServiceView interface {
	Get(name string) (services.Status, bool)
}

// PluginPinger reports whether every plugin process answers.
type PluginPinger interface {
	Ping(ctx context.Context) map[string]error
}

// OptionsDecoder decodes a heal block's options against its healer's
// schema.
type OptionsDecoder func(strategy string, body hcl.Body) (map[string]any, error)

// Options configure an Engine.
type Options struct {
	Store    *store.Store
	Logger   *slog.Logger
	Node     string
	Healer   Healer
	Services ServiceView
	Plugins  PluginPinger
	Alerts   *Alerter
	// DecodeOptions decodes heal block bodies; nil decodes nothing.
	DecodeOptions OptionsDecoder
	// Emit publishes a host event (health.unhealthy, healing.failed, ...).
	Emit func(ctx context.Context, typ string, data map[string]any)
	// Audit records an entry in the audit trail.
	Audit func(ctx context.Context, action, check, outcome string, details map[string]any)
	// HealBudget attempts within HealWindow per check (default 5 in 10m);
	// then healing stops until RetryAfter (default 30m) has passed.
	HealBudget int
	HealWindow time.Duration
	RetryAfter time.Duration
	// HealTimeout bounds one healing attempt (default 2m).
	HealTimeout time.Duration
}

// Engine runs the checks and heals.
type Engine struct {
	opts Options
	http *httpClients
	node string

	mu      sync.Mutex
	checks  map[string]*checkRun
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool

	succeeded atomic.Int64
	failed    atomic.Int64
}

// CheckState is the live state of one check.
type CheckState struct {
	Status               string         `json:"status"`
	Output               string         `json:"output"`
	LastCheck            time.Time      `json:"last_check,omitzero"`
	Since                time.Time      `json:"since,omitzero"`
	DurationMS           int64          `json:"duration_ms"`
	ConsecutiveFailures  int            `json:"consecutive_failures"`
	ConsecutiveSuccesses int            `json:"consecutive_successes"`
	Runs                 int64          `json:"runs"`
	Failures             int64          `json:"failures"`
	Values               map[string]any `json:"values,omitempty"`
	// Incident is the open incident's id, if any.
	Incident string `json:"incident,omitempty"`
	// Healing is "", "active" (strategies being tried) or "exhausted"
	// (stopped; retried at RetryAt).
	Healing string    `json:"healing,omitempty"`
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// CheckInfo is a check's configuration and state.
type CheckInfo struct {
	Name                    string     `json:"name"`
	Type                    string     `json:"type"`
	Interval                string     `json:"interval"`
	Timeout                 string     `json:"timeout"`
	FailuresBeforeUnhealthy int        `json:"failures_before_unhealthy"`
	SuccessesBeforeHealthy  int        `json:"successes_before_healthy"`
	Target                  string     `json:"target,omitempty"`
	ThresholdPercent        float64    `json:"threshold_percent,omitempty"`
	ThresholdBytes          int64      `json:"threshold_bytes,omitempty"`
	Heal                    []string   `json:"heal"`
	State                   CheckState `json:"state"`
}

// Stats counts healing outcomes since the data directory was created.
type Stats struct {
	SuccessfulHealings int `json:"successful_healings"`
	FailedHealings     int `json:"failed_healings"`
}

type healStep struct {
	strategy string
	options  map[string]any
	err      error // options did not decode
	attempts int   // tries before escalating (the healer's "attempts" option, default 1)
}

type checkRun struct {
	cfg  *config.Check
	heal []healStep
	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	runMu   sync.Mutex // one run (probe + healing) at a time
	started atomic.Bool
	cancel  context.CancelFunc // ends a healing in progress when the check is removed

	mu        sync.Mutex
	st        CheckState
	inc       *Incident
	step      int // index into heal of the next strategy
	stepTries int
	healTimes []time.Time
}

// New returns an engine; Apply gives it checks, Start runs them.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HealBudget <= 0 {
		opts.HealBudget = 5
	}
	if opts.HealWindow <= 0 {
		opts.HealWindow = 10 * time.Minute
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 30 * time.Minute
	}
	if opts.HealTimeout <= 0 {
		opts.HealTimeout = 2 * time.Minute
	}
	if opts.Alerts == nil {
		opts.Alerts = NewAlerter(opts.Logger)
	}
	node := opts.Node
	if node == "" {
		node = "local"
	}
	e := &Engine{opts: opts, http: newHTTPClients(), node: node, checks: map[string]*checkRun{}}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e
}

// Start counts the stored healing history and starts running the checks.
func (e *Engine) Start(ctx context.Context) error {
	if e.opts.Store != nil {
		var ok, bad int
		var stale []Incident
		err := e.opts.Store.Scan(store.ScanOptions{Prefix: incidentPrefix}, func(_ string, v []byte) (bool, error) {
			var inc Incident
			if store.Decode(v, &inc) == nil {
				if inc.Status == IncidentOpen {
					stale = append(stale, inc)
				}
				for _, a := range inc.Attempts {
					switch a.Outcome {
					case OutcomeSucceeded:
						ok++
					case OutcomeFailed:
						bad++
					}
				}
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("healing: start: read history: %w", err)
		}
		e.succeeded.Store(int64(ok))
		e.failed.Store(int64(bad))
		// Incidents left open by a previous run are closed: the checks
		// start over and open new ones if the problem persists.
		now := time.Now()
		for _, inc := range stale {
			inc.Status, inc.Outcome, inc.Closed = IncidentResolved, "interrupted", now
			inc.DurationMS = now.Sub(inc.Opened).Milliseconds()
			if a := inc.pending(); a != nil {
				a.Outcome, a.Message = OutcomeUnverified, strings.TrimSpace(a.Message+"; not verified: the host stopped")
			}
			e.persist(ctx, inc)
		}
	}
	e.mu.Lock()
	e.started = true
	crs := make([]*checkRun, 0, len(e.checks))
	for _, cr := range e.checks {
		crs = append(crs, cr)
	}
	e.mu.Unlock()
	// Checks of this host's own parts answer in milliseconds: run them
	// once now so that the health summary is real from the start.
	var wg sync.WaitGroup
	for _, cr := range crs {
		if local(cr.config()) {
			wg.Add(1)
			go func() { defer wg.Done(); e.runOnce(ctx, cr) }()
		}
	}
	wg.Wait()
	e.mu.Lock()
	for _, cr := range e.checks {
		e.launch(cr)
	}
	e.mu.Unlock()
	return nil
}

// local reports whether a check probes only this host's own parts.
func local(c *config.Check) bool {
	switch c.Type {
	case "store", "memory", "disk", "plugins", "process":
		return true
	}
	return false
}

// Apply replaces the set of checks. Unchanged checks keep their state and
// schedule; changed ones start over.
func (e *Engine) Apply(ctx context.Context, checks []*config.Check) {
	e.mu.Lock()
	want := map[string]*config.Check{}
	for _, c := range checks {
		want[c.Name] = c
	}
	var stop []*checkRun
	for name, cr := range e.checks {
		c, ok := want[name]
		if ok && sameCheck(cr.cfg, c) {
			cr.mu.Lock()
			cr.cfg = c
			cr.heal = e.decodeHeal(c)
			cr.mu.Unlock()
			continue
		}
		stop = append(stop, cr)
		delete(e.checks, name)
	}
	for _, c := range checks {
		if _, ok := e.checks[c.Name]; ok {
			continue
		}
		cr := &checkRun{cfg: c, heal: e.decodeHeal(c), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
			st: CheckState{Status: StatusPending, Output: "not run yet"}}
		e.checks[c.Name] = cr
		if e.started {
			e.launch(cr)
		}
	}
	e.mu.Unlock()
	for _, cr := range stop {
		close(cr.stop)
		cr.mu.Lock()
		cancel := cr.cancel
		cr.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		if cr.running() {
			<-cr.done
		}
	}
}

func (cr *checkRun) running() bool {
	select {
	case <-cr.done:
		return false
	default:
	}
	return cr.started.Load()
}

// sameCheck compares what a check probes and how often; heal blocks may
// change without resetting the state.
func sameCheck(a, b *config.Check) bool {
	return a.Type == b.Type && a.Interval == b.Interval && a.Timeout == b.Timeout && a.URL == b.URL && a.Address == b.Address &&
		strings.Join(a.Command, "\x00") == strings.Join(b.Command, "\x00") && a.Service == b.Service && a.Path == b.Path &&
		a.ThresholdPercent == b.ThresholdPercent && a.ThresholdBytes == b.ThresholdBytes && a.BodyMatch == b.BodyMatch &&
		fmt.Sprint(a.ExpectStatus) == fmt.Sprint(b.ExpectStatus) && a.TLSSkipVerify == b.TLSSkipVerify &&
		a.FailuresBeforeUnhealthy == b.FailuresBeforeUnhealthy && a.SuccessesBeforeHealthy == b.SuccessesBeforeHealthy
}

func (e *Engine) decodeHeal(c *config.Check) []healStep {
	out := make([]healStep, 0, len(c.Heal))
	for _, h := range c.Heal {
		st := healStep{strategy: h.Strategy, attempts: 1}
		if e.opts.DecodeOptions != nil {
			st.options, st.err = e.opts.DecodeOptions(h.Strategy, h.Options)
			if st.err != nil {
				e.opts.Logger.Warn("heal options not usable", "check", c.Name, "strategy", h.Strategy, "err", st.err)
			}
		}
		if n := intOption(st.options["attempts"]); n > 1 {
			st.attempts = n
		}
		if h.Strategy == "restart" && c.Service != "" {
			if st.options == nil {
				st.options = map[string]any{}
			}
			if s, _ := st.options["service"].(string); s == "" {
				st.options["service"] = c.Service
			}
		}
		out = append(out, st)
	}
	return out
}

func intOption(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

// Stop ends every check loop and waits for them.
func (e *Engine) Stop(ctx context.Context) error {
	e.cancel()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		e.http.closeIdle()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("healing: stop: %w", ctx.Err())
	}
}

func (e *Engine) launch(cr *checkRun) {
	cr.started.Store(true)
	ctx, cancel := context.WithCancel(e.ctx)
	cr.mu.Lock()
	cr.cancel = cancel
	cr.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(cr.done)
		defer cancel()
		// The first run of a check that ran at start waits an interval;
		// others wait a moment (at most a second) so that services started
		// with the host have a chance to listen.
		first := min(cr.config().Interval, time.Second)
		cr.mu.Lock()
		if cr.st.Runs > 0 {
			first = cr.cfg.Interval
		}
		cr.mu.Unlock()
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-cr.stop:
				return
			case <-t.C:
			case <-cr.wake:
			}
			e.runOnce(ctx, cr)
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
			t.Reset(cr.config().Interval)
		}
	}()
}

// RunCheck runs one check now, through flap protection and healing like a
// scheduled run, and returns its info afterwards.
func (e *Engine) RunCheck(ctx context.Context, name string) (CheckInfo, error) {
	e.mu.Lock()
	cr, ok := e.checks[name]
	e.mu.Unlock()
	if !ok {
		return CheckInfo{}, fmt.Errorf("healing: check %s: %w", name, ErrNotFound)
	}
	e.runOnce(ctx, cr)
	return cr.info(), nil
}

// WakeService runs the process checks of a service now instead of at their
// next interval: the supervisor calls it when the service exits and will
// not be restarted by its own policy.
func (e *Engine) WakeService(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, cr := range e.checks {
		cr.mu.Lock()
		match := cr.cfg.Type == "process" && cr.cfg.Service == name
		cr.mu.Unlock()
		if match {
			select {
			case cr.wake <- struct{}{}:
			default:
			}
			n++
		}
	}
	return n
}

// RunAll runs every check now, in parallel, and returns their infos.
func (e *Engine) RunAll(ctx context.Context) []CheckInfo {
	e.mu.Lock()
	crs := make([]*checkRun, 0, len(e.checks))
	for _, cr := range e.checks {
		crs = append(crs, cr)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, cr := range crs {
		wg.Add(1)
		go func() { defer wg.Done(); e.runOnce(ctx, cr) }()
	}
	wg.Wait()
	return e.Checks()
}

// Checks returns every check with its state, by name.
func (e *Engine) Checks() []CheckInfo {
	e.mu.Lock()
	crs := make([]*checkRun, 0, len(e.checks))
	for _, cr := range e.checks {
		crs = append(crs, cr)
	}
	e.mu.Unlock()
	out := make([]CheckInfo, 0, len(crs))
	for _, cr := range crs {
		out = append(out, cr.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Check returns one check.
func (e *Engine) Check(name string) (CheckInfo, bool) {
	e.mu.Lock()
	cr, ok := e.checks[name]
	e.mu.Unlock()
	if !ok {
		return CheckInfo{}, false
	}
	return cr.info(), true
}

// Stats returns the healing counters.
func (e *Engine) Stats() Stats {
	return Stats{SuccessfulHealings: int(e.succeeded.Load()), FailedHealings: int(e.failed.Load())}
}

// RecycleConnections closes the idle connections of the engine's HTTP
// clients (checks and alert webhooks).
func (e *Engine) RecycleConnections() int {
	e.http.closeIdle()
	e.opts.Alerts.closeIdle()
	return 2
}

func (cr *checkRun) config() *config.Check {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.cfg
}

func (cr *checkRun) info() CheckInfo {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	c := cr.cfg
	ci := CheckInfo{Name: c.Name, Type: c.Type, Interval: c.Interval.String(), Timeout: c.Timeout.String(),
		FailuresBeforeUnhealthy: c.FailuresBeforeUnhealthy, SuccessesBeforeHealthy: c.SuccessesBeforeHealthy,
		ThresholdPercent: c.ThresholdPercent, ThresholdBytes: c.ThresholdBytes, Heal: []string{}, State: cr.st}
	switch c.Type {
	case "http":
		ci.Target = c.URL
	case "tcp":
		ci.Target = c.Address
	case "exec":
		ci.Target = strings.Join(c.Command, " ")
	case "process":
		ci.Target = c.Service
	case "disk":
		ci.Target = c.Path
	}
	for _, h := range c.Heal {
		ci.Heal = append(ci.Heal, h.Strategy)
	}
	if cr.st.Values != nil {
		vals := make(map[string]any, len(cr.st.Values))
		for k, v := range cr.st.Values {
			vals[k] = v
		}
		ci.State.Values = vals
	}
	return ci
}

// runOnce probes, updates the state with flap protection and heals.
func (e *Engine) runOnce(ctx context.Context, cr *checkRun) {
	cr.runMu.Lock()
	defer cr.runMu.Unlock()
	cr.mu.Lock()
	c := cr.cfg
	cr.mu.Unlock()
	start := time.Now()
	res := e.probe(ctx, c)
	if ctx.Err() != nil {
		return // shutting down: not a real failure
	}
	now := time.Now()

	cr.mu.Lock()
	st := &cr.st
	st.Runs++
	st.LastCheck, st.Output, st.Values, st.DurationMS = now, res.Output, res.Values, now.Sub(start).Milliseconds()
	var became, recovered bool
	if res.OK {
		st.ConsecutiveSuccesses++
		st.ConsecutiveFailures = 0
		switch st.Status {
		case StatusPending:
			st.Status, st.Since = StatusHealthy, now
		case StatusUnhealthy:
			if st.ConsecutiveSuccesses >= c.SuccessesBeforeHealthy {
				st.Status, st.Since, recovered = StatusHealthy, now, true
			}
		}
	} else {
		st.Failures++
		st.ConsecutiveFailures++
		st.ConsecutiveSuccesses = 0
		if st.Status != StatusUnhealthy && st.ConsecutiveFailures >= c.FailuresBeforeUnhealthy {
			st.Status, st.Since, became = StatusUnhealthy, now, true
			cr.inc = &Incident{ID: ulid.Make().String(), Check: c.Name, Kind: c.Type, Component: componentOf(c),
				Status: IncidentOpen, Opened: now, Message: res.Output, Failures: st.ConsecutiveFailures}
			cr.step, cr.stepTries = 0, 0
			st.Incident, st.Healing, st.RetryAt = cr.inc.ID, "", time.Time{}
			if len(cr.heal) > 0 {
				st.Healing = "active"
			}
		}
	}
	unhealthy := st.Status == StatusUnhealthy
	var inc Incident
	if cr.inc != nil {
		inc = cr.inc.clone()
	}
	cr.mu.Unlock()

	switch {
	case became:
		e.opts.Logger.Warn("check unhealthy", "check", c.Name, "output", res.Output, "failures", c.FailuresBeforeUnhealthy)
		e.persist(ctx, inc)
		data := map[string]any{"check": c.Name, "type": c.Type, "component": inc.Component, "output": res.Output, "incident": inc.ID,
			"failures": inc.Failures}
		e.emit(ctx, EventUnhealthy, data)
		e.audit(ctx, "health.unhealthy", c.Name, "failure", data)
	case recovered:
		e.recover(ctx, cr, res)
	}
	if unhealthy && !res.OK {
		e.heal(ctx, cr, res)
	}
}

func componentOf(c *config.Check) string {
	switch c.Type {
	case "process":
		return c.Service
	case "http":
		return c.URL
	case "tcp":
		return c.Address
	case "disk":
		return c.Path
	}
	return c.Name
}

// recover closes the open incident: a pending healing attempt succeeded.
func (e *Engine) recover(ctx context.Context, cr *checkRun, res Result) {
	now := time.Now()
	cr.mu.Lock()
	inc := cr.inc
	cr.inc = nil
	cr.st.Incident, cr.st.Healing, cr.st.RetryAt = "", "", time.Time{}
	var healedBy *Attempt
	if inc != nil {
		if a := inc.pending(); a != nil {
			a.Outcome, a.Message = OutcomeSucceeded, strings.TrimSpace(a.Message+"; the check passes again")
			healedBy = a
			// A healing that worked does not count against the budget,
			// which stops futile loops, not recoveries.
			if n := len(cr.healTimes); n > 0 {
				cr.healTimes = cr.healTimes[:n-1]
			}
		}
		inc.Closed, inc.DurationMS = now, now.Sub(inc.Opened).Milliseconds()
		inc.Status, inc.Outcome = IncidentResolved, "recovered"
		if healedBy != nil {
			inc.Outcome = "healed"
		}
	}
	var snap Incident
	if inc != nil {
		snap = inc.clone()
	}
	name := cr.cfg.Name
	cr.mu.Unlock()
	e.opts.Logger.Info("check recovered", "check", name, "output", res.Output)
	if inc == nil {
		return
	}
	e.persist(ctx, snap)
	if healedBy != nil {
		e.succeeded.Add(1)
		data := map[string]any{"check": name, "incident": snap.ID, "strategy": healedBy.Strategy, "attempt": healedBy.Attempt,
			"duration_ms": snap.DurationMS, "details": healedBy.Details}
		e.emit(ctx, EventHealingSucceeded, data)
		e.audit(ctx, "healing.succeeded", name, "success", data)
	}
	data := map[string]any{"check": name, "incident": snap.ID, "outcome": snap.Outcome, "duration_ms": snap.DurationMS, "output": res.Output}
	e.emit(ctx, EventRecovered, data)
	e.audit(ctx, "health.recovered", name, "success", data)
	e.opts.Alerts.Resolve(ctx, "check:"+name, fmt.Sprintf("check %s recovered: %s", name, res.Output))
}

// heal settles the previous attempt (the check still fails) and tries the
// next strategy of the chain, within the budget.
func (e *Engine) heal(ctx context.Context, cr *checkRun, res Result) {
	cr.mu.Lock()
	name := cr.cfg.Name
	inc := cr.inc
	if inc == nil || len(cr.heal) == 0 {
		cr.mu.Unlock()
		return
	}
	var settled *Attempt
	if a := inc.pending(); a != nil {
		a.Outcome = OutcomeFailed
		a.Message = strings.TrimSpace(a.Message + "; the check still fails: " + res.Output)
		settled = a
		cr.advanceLocked()
	}
	now := time.Now()
	if cr.st.Healing == "exhausted" {
		if now.Before(cr.st.RetryAt) {
			snap := inc.clone()
			cr.mu.Unlock()
			if settled != nil {
				e.settledFailed(ctx, name, snap, settled)
			}
			return
		}
		// Slow retry: one more pass over the chain.
		cr.st.Healing, cr.st.RetryAt = "active", time.Time{}
		cr.step, cr.stepTries, cr.healTimes = 0, 0, nil
		inc.Retries++
	}
	snap := inc.clone()
	cr.mu.Unlock()
	if settled != nil {
		e.settledFailed(ctx, name, snap, settled)
	}

	for {
		cr.mu.Lock()
		if cr.step >= len(cr.heal) {
			reason := fmt.Sprintf("every strategy was tried (%d)", len(cr.heal))
			cr.mu.Unlock()
			e.exhaust(ctx, cr, reason, res)
			return
		}
		cr.healTimes = pruneTimes(cr.healTimes, now, e.opts.HealWindow)
		if len(cr.healTimes) >= e.opts.HealBudget {
			reason := fmt.Sprintf("healing budget exhausted (%d attempts within %s)", e.opts.HealBudget, e.opts.HealWindow)
			cr.mu.Unlock()
			e.exhaust(ctx, cr, reason, res)
			return
		}
		cr.healTimes = append(cr.healTimes, time.Now())
		step := cr.heal[cr.step]
		a := Attempt{Strategy: step.strategy, Attempt: len(inc.Attempts) + 1, Started: time.Now()}
		sinc := sdk.Incident{ID: inc.ID, Check: name, Component: inc.Component, Kind: inc.Kind, Message: res.Output,
			Attempt: a.Attempt, Options: step.options}
		cr.mu.Unlock()

		e.opts.Logger.Info("healing", "check", name, "strategy", step.strategy, "attempt", a.Attempt)
		var out sdk.Outcome
		var err error
		switch {
		case step.err != nil:
			err = fmt.Errorf("heal %s: options: %w", step.strategy, step.err)
		case e.opts.Healer == nil:
			err = fmt.Errorf("heal %s: no healer available", step.strategy)
		default:
			hctx, cancel := context.WithTimeout(ctx, e.opts.HealTimeout)
			out, err = e.opts.Healer.Heal(hctx, step.strategy, sinc)
			cancel()
		}
		if ctx.Err() != nil {
			return
		}
		a.DurationMS = time.Since(a.Started).Milliseconds()
		a.Details = out.Details
		a.Message = out.Message
		switch {
		case err != nil:
			a.Outcome, a.Message = OutcomeFailed, err.Error()
		case notified(out):
			a.Outcome = OutcomeNotified
		case out.Healed:
			a.Outcome = OutcomePending
		default:
			a.Outcome = OutcomeFailed
			if a.Message == "" {
				a.Message = "the healer could not act"
			}
		}
		cr.mu.Lock()
		inc.Attempts = append(inc.Attempts, a)
		if a.Outcome != OutcomePending {
			cr.advanceLocked()
		}
		snap := inc.clone()
		cr.mu.Unlock()
		e.persist(ctx, snap)
		data := map[string]any{"check": name, "incident": inc.ID, "strategy": a.Strategy, "attempt": a.Attempt,
			"outcome": a.Outcome, "message": a.Message, "duration_ms": a.DurationMS, "details": a.Details}
		outcome := "success"
		if a.Outcome == OutcomeFailed {
			outcome = "failure"
		}
		e.audit(ctx, "healing."+a.Strategy, name, outcome, data)
		switch a.Outcome {
		case OutcomePending:
			return // the next run of the check tells whether it worked
		case OutcomeFailed:
			e.failed.Add(1)
			e.emit(ctx, EventHealingFailed, data)
		}
	}
}

func (e *Engine) settledFailed(ctx context.Context, name string, snap Incident, a *Attempt) {
	e.persist(ctx, snap)
	e.failed.Add(1)
	data := map[string]any{"check": name, "incident": snap.ID, "strategy": a.Strategy, "attempt": a.Attempt,
		"outcome": OutcomeFailed, "message": a.Message, "duration_ms": a.DurationMS}
	e.emit(ctx, EventHealingFailed, data)
	e.audit(ctx, "healing.failed", name, "failure", data)
}

// advanceLocked moves to the next strategy once the current one used its
// tries.
func (cr *checkRun) advanceLocked() {
	if cr.step >= len(cr.heal) {
		return
	}
	cr.stepTries++
	if cr.stepTries >= cr.heal[cr.step].attempts {
		cr.step++
		cr.stepTries = 0
	}
}

// exhaust stops healing a check until the slow retry and raises an alert.
func (e *Engine) exhaust(ctx context.Context, cr *checkRun, reason string, res Result) {
	cr.mu.Lock()
	retryAt := time.Now().Add(e.opts.RetryAfter)
	cr.st.Healing, cr.st.RetryAt = "exhausted", retryAt
	name := cr.cfg.Name
	var snap Incident
	if cr.inc != nil {
		cr.inc.Exhausted = reason
		snap = cr.inc.clone()
	}
	cr.mu.Unlock()
	e.opts.Logger.Error("healing stopped", "check", name, "reason", reason, "retry_at", retryAt)
	if snap.ID != "" {
		e.persist(ctx, snap)
	}
	data := map[string]any{"check": name, "incident": snap.ID, "reason": reason, "retry_at": retryAt.UTC().Format(time.RFC3339)}
	e.audit(ctx, "healing.exhausted", name, "failure", data)
	e.opts.Alerts.Raise(ctx, Alert{Key: "check:" + name, State: StatusUnhealthy, Severity: "critical",
		Title:   fmt.Sprintf("Heady: check %s is unhealthy and healing stopped", name),
		Message: fmt.Sprintf("%s. Last output: %s. Next try at %s.", reason, res.Output, retryAt.UTC().Format(time.RFC3339)),
		Details: data})
}

func notified(o sdk.Outcome) bool {
	v, _ := o.Details["notified"].(bool)
	return v
}

func pruneTimes(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	keep := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < window {
			keep = append(keep, t)
		}
	}
	return keep
}

func (e *Engine) emit(ctx context.Context, typ string, data map[string]any) {
	if e.opts.Emit != nil {
		e.opts.Emit(ctx, typ, data)
	}
}

func (e *Engine) audit(ctx context.Context, action, check, outcome string, details map[string]any) {
	if e.opts.Audit != nil {
		e.opts.Audit(ctx, action, check, outcome, details)
	}
}
