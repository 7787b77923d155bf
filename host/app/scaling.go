package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/metrics"
	"github.com/heady-dev/heady/host/pluginhost"
	"github.com/heady-dev/heady/host/scaling"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/host/workflow"
	"github.com/heady-dev/heady/sdk"
)

func init() {
	registerSubsystem(func(h *Host) Subsystem { return &scalingSubsystem{h: h} })
}

// metricsInterval is how often the host is sampled into the metrics store.
const metricsInterval = 10 * time.Second

// scalingSubsystem runs the metrics store and collector, Heady's Prometheus
// registry and the auto-scaler, and serves them to the API.
type scalingSubsystem struct {
	h      *Host
	unhook func()
	ms     *metrics.Store
	col    *metrics.Collector
	prom   *metrics.Registry
	eng    *scaling.Engine

	samples chan []metrics.Sample // metric.sample events, recorded off the commit path
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu     sync.Mutex
	cfgErr map[string]error // policies whose backend block did not decode
}

func (s *scalingSubsystem) Name() string { return "scaling" }

func (s *scalingSubsystem) Start(ctx context.Context, pol *config.Policy) (string, error) {
	h := s.h
	ms := h.metrics
	s.ms = ms
	s.prom = metrics.NewRegistry()
	s.registerProm()
	dataDir := pol.Host.DataDir
	if h.opts.DataDir != "" {
		dataDir = h.opts.DataDir
	}
	s.col = metrics.NewCollector(ms, metrics.CollectorOptions{Interval: metricsInterval, DiskPath: dataDir, Logger: h.log, Processes: s.processes})
	s.samples = make(chan []metrics.Sample, 256)
	s.unhook = h.store.OnCommit(s.onCommit)

	s.eng = scaling.New(scaling.Options{Store: h.store, Metrics: ms, Backend: pluginBackend{s}, Notify: s.notify, Logger: h.log,
		Forecast: h.forecastPeak})
	s.eng.SetPolicies(s.compile(pol))
	if err := s.eng.Start(ctx); err != nil {
		return "", err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.col.Run(runCtx) }()
	go func() { defer s.wg.Done(); s.recordSamples(runCtx) }()

	h.eng().RegisterAction("heady.evaluate_scaling", func(ctx context.Context, _ workflow.ActionCall) (workflow.ActionResult, error) {
		ds := s.eng.EvaluateAll(ctx, "workflow")
		out := make([]any, 0, len(ds))
		for _, d := range ds {
			out = append(out, map[string]any{"policy": d.Policy, "action": d.Action, "from": d.From, "to": d.To, "reason": d.Reason, "applied": d.Applied})
		}
		return workflow.ActionResult{Outputs: map[string]any{"policies": len(ds), "decisions": out}}, nil
	})
	if h.apiSvc != nil {
		h.apiSvc.Scaling = s
	}
	ret := pol.Host.MetricsRetention
	if ret <= 0 {
		ret = metrics.DefaultRetention
	}
	return fmt.Sprintf("Auto-scaler ready: %d scaling policies; metrics every %s, kept %s", len(pol.Scaling), metricsInterval, ret), nil
}

func (s *scalingSubsystem) Reload(ctx context.Context, pol *config.Policy) error {
	old := s.h.policy.Load()
	s.eng.SetPolicies(s.compile(pol))
	s.drainRemoved(ctx, old, pol)
	return nil
}

// drainRemoved scales the process pools of removed policies to zero: their
// replicas are children of the scale plugin and would otherwise run on
// unmanaged. Other backends reach systems Heady does not own and are left
// as they are.
func (s *scalingSubsystem) drainRemoved(ctx context.Context, old, cur *config.Policy) {
	if old == nil {
		return
	}
	keep := map[string]bool{}
	for _, p := range cur.Scaling {
		keep[p.Name] = true
	}
	for _, p := range old.Scaling {
		if keep[p.Name] || p.DryRun || pluginhost.ScalerComponent(p.Backend) != "scale.process_pool" {
			continue
		}
		cfg, err := s.decodeBackend(old, p)
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			r, err := s.h.plugins.Scale(dctx, "scale.process_pool", sdk.Target{Name: p.Name, Config: cfg}, 0)
			outcome, msg := audit.OutcomeSuccess, r.Message
			if err != nil {
				outcome, msg = audit.OutcomeFailure, err.Error()
				s.h.log.Warn("scaling: drain the pool of a removed policy", "policy", p.Name, "err", err)
			}
			s.h.appendAudit(dctx, audit.Entry{Actor: "auto-scaler", ActorKind: audit.ActorSystem, Action: "scaling.drain_removed",
				ResourceType: "scaling_policy", ResourceID: p.Name, Outcome: outcome, Details: map[string]any{"result": msg}})
		}()
	}
}

func (s *scalingSubsystem) Stop(ctx context.Context) error {
	if s.unhook != nil {
		s.unhook()
	}
	err := s.eng.Stop(ctx)
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return err
}

// compile decodes each policy's backend block against its scaler's schema.
// A block that does not decode is logged and reported by every evaluation
// of its policy; the rest of the set still applies.
func (s *scalingSubsystem) compile(pol *config.Policy) []scaling.Policy {
	errs := map[string]error{}
	out := make([]scaling.Policy, 0, len(pol.Scaling))
	for _, p := range pol.Scaling {
		sp := scaling.Policy{Spec: p}
		if p.Backend != "" {
			cfg, err := s.decodeBackend(pol, p)
			if err != nil {
				errs[p.Name] = err
				s.h.log.Warn("scaling policy backend is invalid", "policy", p.Name, "err", err)
			}
			sp.Config = cfg
		}
		out = append(out, sp)
	}
	s.mu.Lock()
	s.cfgErr = errs
	s.mu.Unlock()
	return out
}

func (s *scalingSubsystem) decodeBackend(pol *config.Policy, p *config.Scaling) (map[string]any, error) {
	name := pluginhost.ScalerComponent(p.Backend)
	info, ok := s.h.plugins.Component(name)
	if !ok {
		return nil, fmt.Errorf("scaler %s is not installed", name)
	}
	if info.Kind != sdk.KindScaler {
		return nil, fmt.Errorf("%s is a %s, not a scaler", name, info.Kind)
	}
	cfg, diags := pluginhost.DecodeConfig(p.BackendConfig, info.Inputs, pol.EvalContext(nil))
	if diags.HasErrors() {
		return nil, errors.New(diags.Error())
	}
	// A process pool may name a service block: its replicas run that
	// service's command.
	if svc, _ := cfg["service"].(string); svc != "" && cfg["command"] == nil {
		found := false
		for _, sv := range pol.Services {
			if sv.Name != svc {
				continue
			}
			found = true
			cmd := make([]any, len(sv.Command))
			for i, a := range sv.Command {
				cmd[i] = a
			}
			cfg["command"] = cmd
			env := map[string]any{}
			for k, v := range sv.Env {
				env[k] = v
			}
			if own, ok := cfg["env"].(map[string]any); ok {
				for k, v := range own {
					env[k] = v
				}
			}
			cfg["env"] = env
			if cfg["dir"] == nil && sv.Dir != "" {
				cfg["dir"] = sv.Dir
			}
		}
		if !found {
			return cfg, fmt.Errorf("backend %s: no service %q", p.Backend, svc)
		}
	}
	return cfg, nil
}

// pluginBackend reaches scaler plugins.
type pluginBackend struct{ s *scalingSubsystem }

func (b pluginBackend) check(p scaling.Policy) error {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	if err := b.s.cfgErr[p.Spec.Name]; err != nil {
		return fmt.Errorf("backend %s: %w", p.Spec.Backend, err)
	}
	return nil
}

func (b pluginBackend) Current(ctx context.Context, p scaling.Policy) (int, error) {
	if err := b.check(p); err != nil {
		return 0, err
	}
	n, _, err := b.s.h.plugins.ScaleCurrent(ctx, pluginhost.ScalerComponent(p.Spec.Backend), sdk.Target{Name: p.Spec.Name, Config: p.Config})
	return n, err
}

func (b pluginBackend) Scale(ctx context.Context, p scaling.Policy, desired int) (scaling.Result, error) {
	if err := b.check(p); err != nil {
		return scaling.Result{}, err
	}
	// Starting replicas waits for their health: allow more than a call's
	// default deadline.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	r, err := b.s.h.plugins.Scale(ctx, pluginhost.ScalerComponent(p.Spec.Backend), sdk.Target{Name: p.Spec.Name, Config: p.Config}, desired)
	return scaling.Result{Current: r.Current, Message: r.Message}, err
}

// notify turns a decision into Prometheus counts, and scaling actions and
// failures into host events and audit entries.
func (s *scalingSubsystem) notify(ctx context.Context, d scaling.Decision) {
	s.prom.ScalingEvaluated(d.Policy, d.Action, d.Applied, d.Current)
	h := s.h
	data := map[string]any{"id": d.ID, "policy": d.Policy, "backend": d.Backend, "from": d.From, "to": d.To, "current": d.Current,
		"reason": d.Reason, "metrics": d.Metrics, "dry_run": d.DryRun, "applied": d.Applied, "result": d.Result, "error": d.Error, "trigger": d.Trigger}
	var typ string
	outcome := audit.OutcomeSuccess
	switch {
	case d.Action == scaling.ActionError || d.Error != "":
		typ, outcome = "scaling.failed", audit.OutcomeFailure
	case d.Action == scaling.ActionScaleUp && d.Applied:
		typ = "scaling.scaled_up"
	case d.Action == scaling.ActionScaleDown && d.Applied:
		typ = "scaling.scaled_down"
	case d.DryRun && (d.Action == scaling.ActionScaleUp || d.Action == scaling.ActionScaleDown):
		typ = "scaling.recommended"
	default:
		return // holds are in the history only
	}
	h.emitHostEvent(ctx, typ, data)
	action := "scaling." + d.Action
	if d.Action == scaling.ActionError {
		action = "scaling.evaluate"
	}
	h.appendAudit(ctx, audit.Entry{Actor: "auto-scaler", ActorKind: audit.ActorSystem, Action: action,
		ResourceType: "scaling_policy", ResourceID: d.Policy, Outcome: outcome, Details: data})
}

// onCommit counts accepted events and picks up metric.sample events. It
// runs on the store's commit path, so it only hands samples over.
func (s *scalingSubsystem) onCommit(ops []store.Op) {
	n := 0
	for _, op := range ops {
		if op.Kind != store.OpPut || !bytes.HasPrefix(op.Key, []byte(events.PendingPrefix)) {
			continue
		}
		n++
		if !bytes.Contains(op.Value, []byte(`"metric.sample"`)) {
			continue
		}
		var ev events.Event
		if err := store.Decode(op.Value, &ev); err != nil || ev.Type != "metric.sample" {
			continue
		}
		if smp := samplesOf(ev); len(smp) > 0 {
			select {
			case s.samples <- smp:
			default: // the recorder is behind: drop rather than stall commits
			}
		}
	}
	if n > 0 {
		s.col.CountEvents(n)
		s.prom.CountEvents(n)
	}
}

// samplesOf reads a metric.sample event: {series, value, labels} or
// {samples: [...]}. Series without a dot are custom.NAME.
func samplesOf(ev events.Event) []metrics.Sample {
	one := func(m map[string]any) (metrics.Sample, bool) {
		name, _ := m["series"].(string)
		v, ok := toFloat(m["value"])
		if name == "" || !ok {
			return metrics.Sample{}, false
		}
		if !strings.Contains(name, ".") {
			name = "custom." + name
		}
		smp := metrics.Sample{Series: name, Value: v, Time: ev.Time}
		if ls, ok := m["labels"].(map[string]any); ok {
			smp.Labels = map[string]string{}
			for k, lv := range ls {
				smp.Labels[k] = fmt.Sprint(lv)
			}
		}
		return smp, metrics.ValidName(name)
	}
	var out []metrics.Sample
	if list, ok := ev.Data["samples"].([]any); ok {
		for _, x := range list {
			if m, ok := x.(map[string]any); ok {
				if smp, ok := one(m); ok {
					out = append(out, smp)
				}
			}
		}
		return out
	}
	if smp, ok := one(ev.Data); ok {
		out = append(out, smp)
	}
	return out
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case interface{ Float64() (float64, error) }:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func (s *scalingSubsystem) recordSamples(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case smp := <-s.samples:
			if err := s.ms.Record(ctx, smp); err != nil && ctx.Err() == nil {
				s.h.log.Warn("metric.sample not recorded", "err", err)
			}
		}
	}
}

// processes are Heady itself, its running plugins and the supervised
// services.
func (s *scalingSubsystem) processes() []metrics.Process {
	out := []metrics.Process{{Series: "process.heady", PID: os.Getpid()}}
	for _, p := range s.h.plugins.List() {
		if p.PID > 0 {
			out = append(out, metrics.Process{Series: "process.plugin." + p.Name, PID: p.PID})
		}
	}
	if svc := s.h.apiSvc; svc != nil && svc.Healing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, st := range svc.Healing.Services(ctx) {
			if st.PID > 0 {
				out = append(out, metrics.Process{Series: "service." + st.Name, PID: st.PID})
			}
		}
	}
	return out
}

// registerProm adds the daemon's own figures to the Prometheus registry.
func (s *scalingSubsystem) registerProm() {
	h := s.h
	s.prom.AddLabeledFunc("heady_workflow_executions_total", "Finished workflow executions by status.", "status", true, func() map[string]float64 {
		st := h.eng().Stats()
		return map[string]float64{"succeeded": float64(st.Succeeded), "failed": float64(st.Failed), "cancelled": float64(st.Cancelled)}
	})
	s.prom.AddLabeledFunc("heady_workflow_executions", "Executions running or queued now.", "state", false, func() map[string]float64 {
		st := h.eng().Stats()
		return map[string]float64{"running": float64(st.Running), "queued": float64(st.Queued)}
	})
	s.prom.AddFunc("heady_events_pending", "Accepted events waiting for dispatch.", false, func() float64 { return float64(h.eng().Stats().EventsPending) })
	s.prom.AddFunc("heady_workflows_active", "Loaded, enabled workflows.", false, func() float64 { return float64(h.eng().Stats().ActiveWorkflows) })
	s.prom.AddLabeledFunc("heady_plugin_restarts_total", "Plugin process restarts after crashes.", "plugin", true, func() map[string]float64 {
		out := map[string]float64{}
		for _, p := range h.plugins.List() {
			out[p.Name] = float64(p.Restarts)
		}
		return out
	})
	s.prom.AddFunc("heady_uptime_seconds", "Seconds since the daemon started.", false, func() float64 { return time.Since(h.started).Seconds() })
	h.registerClusterMetrics(s.prom)
}

// ContributeStatus fills the scaling section of GET /status.
func (s *scalingSubsystem) ContributeStatus(_ context.Context, st *api.Status) {
	if l, ok := s.ms.Latest("host.cpu"); ok {
		st.Scaling.CPU = round1(l.Value)
	}
	if l, ok := s.ms.Latest("host.memory"); ok {
		st.Scaling.Memory = round1(l.Value)
	}
	if n, ok := s.eng.ActiveNodes(); ok {
		st.Scaling.ActiveNodes = n
	}
}

// The api.ScalingService methods.

func (s *scalingSubsystem) ScalingMetrics(ctx context.Context) api.ScalingMetrics {
	out := api.ScalingMetrics{Time: time.Now().UTC(), ActiveNodes: 1, Policies: s.eng.Policies(ctx)}
	latest := func(series string) float64 {
		if l, ok := s.ms.Latest(series); ok {
			return round1(l.Value)
		}
		return 0
	}
	cpu, mem := s.h.sampler.current()
	out.CPU, out.Memory = round1(cpu), round1(mem)
	out.Disk = latest("host.disk")
	out.Load1 = latest("host.load1")
	out.RequestsPerMin = latest("api.requests_per_min")
	out.EventsPerMin = latest("events.per_min")
	if n, ok := s.eng.ActiveNodes(); ok {
		out.ActiveNodes = n
	}
	return out
}

func (s *scalingSubsystem) ScalingPolicies(ctx context.Context) []scaling.PolicyView {
	return s.eng.Policies(ctx)
}

func (s *scalingSubsystem) ScalingHistory(ctx context.Context, f scaling.HistoryFilter) ([]scaling.Decision, string, error) {
	return s.eng.History(ctx, f)
}

func (s *scalingSubsystem) EvaluateScaling(ctx context.Context, policy, _ string) (scaling.Decision, error) {
	return s.eng.Evaluate(ctx, policy, "api")
}

func (s *scalingSubsystem) RecordMetrics(ctx context.Context, samples []metrics.Sample) error {
	return s.ms.Record(ctx, samples)
}

func (s *scalingSubsystem) QueryMetrics(ctx context.Context, series string, from, to time.Time, step time.Duration) ([]metrics.Point, error) {
	return s.ms.Range(ctx, series, from, to, step)
}

func (s *scalingSubsystem) ListSeries() []metrics.SeriesInfo { return s.ms.List() }

func (s *scalingSubsystem) PrometheusText() ([]byte, string, error) { return s.prom.Text() }

func (s *scalingSubsystem) ObserveRequest(method, route string, status int, d time.Duration) {
	s.col.CountRequest()
	s.prom.ObserveRequest(method, route, status, d)
}

var (
	_ Subsystem          = (*scalingSubsystem)(nil)
	_ StatusContributor  = (*scalingSubsystem)(nil)
	_ api.ScalingService = (*scalingSubsystem)(nil)
	_ scaling.Backend    = pluginBackend{}
)

// forecastPeak asks the intelligence engine for the forecast peak of a
// series (predictive scaling); ok is false while it cannot forecast.
func (h *Host) forecastPeak(ctx context.Context, series string, lookahead time.Duration) (float64, bool, error) {
	fn, ok := h.maintOp("intelligence.forecast_peak")
	if !ok {
		return 0, false, nil
	}
	out, err := fn(ctx, map[string]any{"series": series, "lookahead": lookahead.String()})
	if err != nil {
		return 0, false, nil
	}
	v, ok := out["value"].(float64)
	return v, ok, nil
}
