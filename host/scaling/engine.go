// Package scaling is Heady's auto-scaler. It evaluates `scaling` policies
// against the metrics store, decides with Decide (thresholds or target
// tracking, step, min/max, up and down cooldowns, a scale-down
// stabilization window, missing-metric handling, active hours, dry-run),
// asks a scaler backend for its current count and to scale, and keeps every
// decision, the ones that held included, as history in Badger through
// store.Apply.
//
// The backend's own count is authoritative: every evaluation starts from
// it, so instances added or lost outside Heady are noticed; when the count
// is below what Heady last set (an instance died) and the metrics ask for
// no change, the count is restored.
//
// Policies evaluate on their own ticker when their evaluation_interval is
// shorter than the workflow interval (the auto_scale_check workflow covers
// the others through EvaluateAll).
package scaling

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/metrics"
	"github.com/heady-dev/heady/host/store"
)

const (
	histPrefix  = store.SpaceScaling + "hist/"
	statePrefix = store.SpaceScaling + "state/"
)

// ErrNotFound is returned for an unknown policy.
var ErrNotFound = errors.New("scaling policy not found")

// Policy is a scaling policy ready to evaluate: its validated block and its
// backend block decoded against the backend's schema.
type Policy struct {
	Spec   *config.Scaling
	Config map[string]any
}

// Result is what a backend answers to Scale.
type Result struct {
	Current int
	Message string
}

// Backend reaches the scaler a policy names.
type Backend interface {
	Current(ctx context.Context, p Policy) (int, error)
	Scale(ctx context.Context, p Policy, desired int) (Result, error)
}

// MetricReader is the part of the metrics store the engine reads.
type MetricReader interface {
	Average(ctx context.Context, series string, window time.Duration) (float64, int64, error)
	Latest(series string) (metrics.Sample, bool)
}

// Decision is one evaluation of one policy: what the metrics said, what the
// backend reported, what was decided and why, and what the backend did.
type Decision struct {
	ID      string             `json:"id"`
	Time    time.Time          `json:"time"`
	Policy  string             `json:"policy"`
	Backend string             `json:"backend,omitempty"`
	Trigger string             `json:"trigger"` // schedule | workflow | api
	Metrics map[string]float64 `json:"metrics"`
	Missing []string           `json:"missing,omitempty"`
	From    int                `json:"from"`
	To      int                `json:"to"`
	// Recommendation is the count the metrics asked for (within min/max).
	Recommendation int    `json:"recommendation"`
	Action         string `json:"action"` // scale_up | scale_down | hold | error
	Reason         string `json:"reason"`
	DryRun         bool   `json:"dry_run,omitempty"`
	// Applied is true when the backend carried out the change.
	Applied bool `json:"applied"`
	// Result is the backend's message; Current its count afterwards.
	Result  string `json:"result,omitempty"`
	Current int    `json:"current"`
	Error   string `json:"error,omitempty"`
}

// Options configure an Engine.
type Options struct {
	Store   *store.Store
	Metrics MetricReader
	// Backend reaches scaler backends; nil evaluates every policy as
	// dry-run.
	Backend Backend
	// Notify is called after each decision is stored (events, audit,
	// Prometheus).
	Notify func(ctx context.Context, d Decision)
	// WorkflowInterval is the interval of the workflow that calls
	// EvaluateAll (10 min when zero): policies with a shorter
	// evaluation_interval run on their own ticker.
	WorkflowInterval time.Duration
	// HistoryRetention is the TTL of decision records (30 days when zero).
	HistoryRetention time.Duration
	// Forecast, when set, serves policies with predictive = true: the
	// highest value series is expected to reach within lookahead (ok false
	// when there is not enough history to say).
	Forecast func(ctx context.Context, series string, lookahead time.Duration) (peak float64, ok bool, err error)
	Logger   *slog.Logger
	Now      func() time.Time
}

// Engine evaluates scaling policies.
type Engine struct {
	opts Options

	mu       sync.Mutex
	policies map[string]*policyRun
	running  bool
	runCtx   context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type policyRun struct {
	mu      sync.Mutex // serialises evaluations of the policy
	vmu     sync.Mutex // guards the fields below, for readers during an evaluation
	pol     Policy
	state   State
	last    *Decision
	current int
	stop    context.CancelFunc
	next    time.Time
}

// New returns an engine; call SetPolicies and Start.
func New(opts Options) *Engine {
	if opts.WorkflowInterval <= 0 {
		opts.WorkflowInterval = 10 * time.Minute
	}
	if opts.HistoryRetention <= 0 {
		opts.HistoryRetention = 30 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Engine{opts: opts, policies: map[string]*policyRun{}}
}

// Start starts the tickers of the policies with short intervals.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.running {
		return nil
	}
	e.runCtx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	e.running = true
	for _, pr := range e.policies {
		e.startTicker(pr)
	}
	return nil
}

// Stop stops the tickers and waits for running evaluations.
func (e *Engine) Stop(context.Context) error {
	e.mu.Lock()
	if !e.running {
		e.mu.Unlock()
		return nil
	}
	e.running = false
	e.cancel()
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}

// SetPolicies replaces the policy set. Policies that stay keep their state;
// new ones load theirs from the store.
func (e *Engine) SetPolicies(ps []Policy) {
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[string]bool{}
	for _, p := range ps {
		name := p.Spec.Name
		seen[name] = true
		pr := e.policies[name]
		if pr == nil {
			pr = &policyRun{current: -1}
			var st State
			if err := e.opts.Store.GetRecord(statePrefix+name, &st); err == nil {
				pr.state = st
			}
			e.policies[name] = pr
		} else if pr.stop != nil {
			pr.stop()
			pr.stop = nil
		}
		pr.vmu.Lock()
		pr.pol = p
		pr.vmu.Unlock()
		if e.running {
			e.startTicker(pr)
		}
	}
	for name, pr := range e.policies {
		if !seen[name] {
			if pr.stop != nil {
				pr.stop()
			}
			delete(e.policies, name)
		}
	}
}

// startTicker runs the policy on its own interval when that is shorter than
// the workflow's. Called with e.mu held.
func (e *Engine) startTicker(pr *policyRun) {
	every := pr.pol.Spec.EvaluationInterval
	if every <= 0 || every >= e.opts.WorkflowInterval {
		return
	}
	ctx, cancel := context.WithCancel(e.runCtx)
	pr.stop = cancel
	name := pr.pol.Spec.Name
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := e.Evaluate(ctx, name, "schedule"); err != nil && ctx.Err() == nil {
					e.opts.Logger.Warn("scaling: evaluate", "policy", name, "err", err)
				}
			}
		}
	}()
}

func (e *Engine) run(name string) *policyRun {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.policies[name]
}

func (e *Engine) names() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.policies))
	for n := range e.policies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// EvaluateAll evaluates every policy now.
func (e *Engine) EvaluateAll(ctx context.Context, trigger string) []Decision {
	var out []Decision
	for _, n := range e.names() {
		d, err := e.Evaluate(ctx, n, trigger)
		if err != nil && d.ID == "" {
			continue
		}
		out = append(out, d)
	}
	return out
}

// SeriesFor maps a policy's metric name to a stored series: cpu, memory and
// disk to the host's, requests_per_min to service.POLICY.requests_per_min
// when a backend reports it and to the API's own rate otherwise, a dotted
// name to itself and any other name to custom.NAME.
func SeriesFor(policy, metric string, known func(string) bool) string {
	switch metric {
	case "cpu":
		return "host.cpu"
	case "memory":
		return "host.memory"
	case "disk":
		return "host.disk"
	case "requests_per_min":
		if s := "service." + policy + ".requests_per_min"; known != nil && known(s) {
			return s
		}
		return "api.requests_per_min"
	}
	if strings.Contains(metric, ".") {
		return metric
	}
	return "custom." + metric
}

// metricWindow is how far back a metric is averaged: the evaluation
// interval, between 1 s and 1 min.
func metricWindow(p *config.Scaling) time.Duration {
	return min(max(p.EvaluationInterval, time.Second), time.Minute)
}

// readMetrics returns the policy's metric values; a metric without a sample
// in its window, nor a latest sample younger than three windows (at least
// 30 s), is missing.
func (e *Engine) readMetrics(ctx context.Context, p *config.Scaling) (map[string]float64, []string, error) {
	vals := map[string]float64{}
	var missing []string
	known := func(s string) bool { _, ok := e.opts.Metrics.Latest(s); return ok }
	win := metricWindow(p)
	now := e.opts.Now()
	for _, m := range p.Metrics {
		series := SeriesFor(p.Name, m.Name, known)
		v, n, err := e.opts.Metrics.Average(ctx, series, win)
		if err != nil && !errors.Is(err, metrics.ErrUnknownSeries) {
			return nil, nil, err
		}
		if n > 0 {
			vals[m.Name] = round2(v)
			continue
		}
		if l, ok := e.opts.Metrics.Latest(series); ok && now.Sub(l.Time) <= max(3*win, 30*time.Second) {
			vals[m.Name] = round2(l.Value)
			continue
		}
		missing = append(missing, m.Name)
	}
	return vals, missing, nil
}

// predictive decides again with each metric raised to its forecast peak
// within the next evaluation interval. Only a scale-up is taken from it:
// a forecast alone never scales in.
func (e *Engine) predictive(ctx context.Context, p *config.Scaling, now time.Time, cur int, vals map[string]float64, missing []string, st State) (Outcome, bool) {
	if e.opts.Forecast == nil || p.Mode == "target" {
		return Outcome{}, false
	}
	known := func(s string) bool { _, ok := e.opts.Metrics.Latest(s); return ok }
	ahead := map[string]float64{}
	var why []string
	for k, v := range vals {
		ahead[k] = v
	}
	for _, m := range p.Metrics {
		peak, ok, err := e.opts.Forecast(ctx, SeriesFor(p.Name, m.Name, known), p.EvaluationInterval)
		if err != nil || !ok || peak <= ahead[m.Name] {
			continue
		}
		ahead[m.Name] = round2(peak)
		if m.ScaleUp > 0 && peak > m.ScaleUp {
			why = append(why, fmt.Sprintf("%s forecast %.1f > %g within %s", m.Name, peak, m.ScaleUp, p.EvaluationInterval))
		}
	}
	if len(why) == 0 {
		return Outcome{}, false
	}
	out := Decide(p, Input{Now: now, Current: cur, Values: ahead, Missing: missing, State: st})
	if out.Action != ActionScaleUp {
		return Outcome{}, false
	}
	out.Reason = "predictive: " + strings.Join(why, ", ")
	return out, true
}

func round2(v float64) float64 {
	if v < 0 {
		return -round2(-v)
	}
	return float64(int64(v*100+0.5)) / 100
}

// Evaluate evaluates one policy now, carries out its decision and records
// it. The returned error is also recorded in the decision when one was made.
func (e *Engine) Evaluate(ctx context.Context, name, trigger string) (Decision, error) {
	pr := e.run(name)
	if pr == nil {
		return Decision{}, fmt.Errorf("scaling %s: %w", name, ErrNotFound)
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.vmu.Lock()
	pol, st0, prevCur := pr.pol, pr.state, pr.current
	p := pol.Spec
	now := e.opts.Now().UTC()
	pr.next = now.Add(p.EvaluationInterval)
	pr.vmu.Unlock()
	d := Decision{ID: ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(), Time: now, Policy: p.Name, Backend: p.Backend,
		Trigger: trigger, DryRun: p.DryRun, Metrics: map[string]float64{}}

	vals, missing, err := e.readMetrics(ctx, p)
	if err != nil {
		d.Action, d.Reason, d.Error = ActionError, "metrics unavailable", err.Error()
		return d, e.record(ctx, pr, d, st0)
	}
	d.Metrics, d.Missing = vals, missing

	st := st0
	hasBackend := e.opts.Backend != nil && p.Backend != ""
	cur := st.Desired
	if !hasBackend && cur == 0 {
		cur = p.Min
	}
	if hasBackend {
		n, err := e.opts.Backend.Current(ctx, pol)
		switch {
		case err == nil:
			cur = n
		case !p.DryRun:
			d.Action, d.Reason, d.Error = ActionError, "backend: current count unavailable", err.Error()
			d.From, d.To, d.Current = prevCur, prevCur, prevCur
			return d, e.record(ctx, pr, d, st)
		}
	}
	if st.Desired == 0 && cur > 0 {
		st.Desired = cur // adopt the backend's count
	}
	out := Decide(p, Input{Now: now, Current: cur, Values: vals, Missing: missing, State: st})
	if out.Action != ActionScaleUp && p.Predictive {
		if pout, ok := e.predictive(ctx, p, now, cur, vals, missing, st); ok {
			out = pout
		}
	}
	st = out.State
	d.From, d.To, d.Recommendation, d.Action, d.Reason, d.Current = cur, out.To, out.Recommendation, out.Action, out.Reason, cur
	if out.Action == ActionHold || out.Action == ActionError {
		d.To = cur
	}
	if out.Action == ActionScaleUp || out.Action == ActionScaleDown {
		switch {
		case p.DryRun:
			d.Reason = "dry_run: " + d.Reason
			d.Current = out.To
			st.Desired, st.LastAction = out.To, now
		default:
			res, err := e.opts.Backend.Scale(ctx, pol, out.To)
			d.Result = res.Message
			if err != nil {
				// The cooldown also spaces out retries of a failing backend.
				d.Error = err.Error()
				d.Current = cur
				st.LastAction = now
				break
			}
			d.Applied = true
			d.Current = res.Current
			st.Desired, st.LastAction = out.To, now
		}
	}
	if err := e.record(ctx, pr, d, st); err != nil {
		return d, err
	}
	if d.Error != "" {
		return d, errors.New(d.Error)
	}
	return d, nil
}

// record stores the decision and the policy's new state in one apply, then
// notifies.
func (e *Engine) record(ctx context.Context, pr *policyRun, d Decision, st State) error {
	ops := []store.Op{
		store.PutTTL(histPrefix+d.ID, store.MustEncode(d), e.opts.HistoryRetention),
		store.Put(statePrefix+d.Policy, store.MustEncode(st)),
	}
	if err := e.opts.Store.Apply(ctx, ops...); err != nil {
		return fmt.Errorf("scaling %s: record decision: %w", d.Policy, err)
	}
	pr.vmu.Lock()
	pr.state = st
	dd := d
	pr.last = &dd
	if d.Current >= 0 && d.Action != ActionError {
		pr.current = d.Current
	}
	pr.vmu.Unlock()
	if e.opts.Notify != nil {
		e.opts.Notify(ctx, d)
	}
	return nil
}

// HistoryFilter selects decisions.
type HistoryFilter struct {
	Policy string
	// Actions keeps only these actions (empty: all).
	Actions []string
	Limit   int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

// History lists decisions newest first.
func (e *Engine) History(ctx context.Context, f HistoryFilter) ([]Decision, string, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	out := []Decision{}
	next := ""
	after := ""
	if f.Cursor != "" {
		after = histPrefix + f.Cursor
	}
	err := e.opts.Store.Scan(store.ScanOptions{Prefix: histPrefix, After: after, Reverse: true}, func(key string, v []byte) (bool, error) {
		var d Decision
		if err := store.Decode(v, &d); err != nil {
			return true, nil
		}
		if f.Policy != "" && d.Policy != f.Policy {
			return true, nil
		}
		if len(f.Actions) > 0 && !contains(f.Actions, d.Action) {
			return true, nil
		}
		out = append(out, d)
		if len(out) >= f.Limit {
			next = d.ID
			return false, nil
		}
		return ctx.Err() == nil, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("scaling: history: %w", err)
	}
	return out, next, ctx.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MetricView is one metric of a policy as last seen.
type MetricView struct {
	Name      string   `json:"name"`
	Series    string   `json:"series"`
	Value     *float64 `json:"value"` // null when missing
	ScaleUp   float64  `json:"scale_up,omitempty"`
	ScaleDown float64  `json:"scale_down,omitempty"`
	Target    float64  `json:"target,omitempty"`
}

// PolicyView is a policy with its live state.
type PolicyView struct {
	Name                string              `json:"name"`
	Backend             string              `json:"backend,omitempty"`
	Mode                string              `json:"mode"`
	Min                 int                 `json:"min"`
	Max                 int                 `json:"max"`
	Step                int                 `json:"step"`
	CooldownUp          string              `json:"cooldown_up"`
	CooldownDown        string              `json:"cooldown_down"`
	StabilizationWindow string              `json:"stabilization_window"`
	EvaluationInterval  string              `json:"evaluation_interval"`
	MissingMetric       string              `json:"missing_metric"`
	DryRun              bool                `json:"dry_run"`
	ActiveHours         *config.ActiveHours `json:"active_hours,omitempty"`
	// Current is the backend's count at the last evaluation (-1: unknown).
	Current        int          `json:"current"`
	Desired        int          `json:"desired"`
	LastAction     time.Time    `json:"last_action,omitzero"`
	NextEvaluation time.Time    `json:"next_evaluation,omitzero"`
	Metrics        []MetricView `json:"metrics"`
	LastDecision   *Decision    `json:"last_decision,omitempty"`
}

// Policies returns every policy with its live state, sorted by name.
func (e *Engine) Policies(ctx context.Context) []PolicyView {
	known := func(s string) bool { _, ok := e.opts.Metrics.Latest(s); return ok }
	out := []PolicyView{}
	for _, n := range e.names() {
		pr := e.run(n)
		if pr == nil {
			continue
		}
		pr.vmu.Lock()
		p := pr.pol.Spec
		up, down := cooldowns(p)
		v := PolicyView{Name: p.Name, Backend: p.Backend, Mode: p.Mode, Min: p.Min, Max: p.Max, Step: p.Step,
			CooldownUp: up.String(), CooldownDown: down.String(), StabilizationWindow: p.StabilizationWindow.String(),
			EvaluationInterval: p.EvaluationInterval.String(), MissingMetric: p.MissingMetric, DryRun: p.DryRun, ActiveHours: p.ActiveHours,
			Current: pr.current, Desired: pr.state.Desired, LastAction: pr.state.LastAction, NextEvaluation: pr.next, Metrics: []MetricView{}}
		if pr.last != nil {
			d := *pr.last
			v.LastDecision = &d
		}
		pr.vmu.Unlock()
		for _, m := range p.Metrics {
			mv := MetricView{Name: m.Name, Series: SeriesFor(p.Name, m.Name, known), ScaleUp: m.ScaleUp, ScaleDown: m.ScaleDown, Target: m.Target}
			if val, n, err := e.opts.Metrics.Average(ctx, mv.Series, metricWindow(p)); err == nil && n > 0 {
				r := round2(val)
				mv.Value = &r
			} else if l, ok := e.opts.Metrics.Latest(mv.Series); ok {
				r := round2(l.Value)
				mv.Value = &r
			}
			v.Metrics = append(v.Metrics, mv)
		}
		out = append(out, v)
	}
	return out
}

// ActiveNodes is the sum of the current counts of the policies whose
// backend reported one.
func (e *Engine) ActiveNodes() (int, bool) {
	total, any := 0, false
	for _, n := range e.names() {
		pr := e.run(n)
		if pr == nil {
			continue
		}
		pr.vmu.Lock()
		if pr.current >= 0 && pr.pol.Spec.Backend != "" && !pr.pol.Spec.DryRun {
			total += pr.current
			any = true
		}
		pr.vmu.Unlock()
	}
	return total, any
}
