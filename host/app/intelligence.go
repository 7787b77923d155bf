package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/intelligence"
	"github.com/heady-dev/heady/host/metrics"
	"github.com/heady-dev/heady/host/workflow"
)

// The intelligence engine is configured by policy variables (declared in
// policies/intelligence.hcl, overridable with --var):
//
//	intelligence_interval     how often the learning runs ("1h")
//	intelligence_session_gap  idle gap that ends a session ("30m")
//	intelligence_min_sessions sessions a sequence must occur in (3)
//	intelligence_min_days     distinct days it must occur on (2)
func init() {
	registerSubsystem(func(h *Host) Subsystem { return &intelSubsystem{h: h} })
}

type intelSubsystem struct {
	h   *Host
	eng *intelligence.Engine

	mu       sync.Mutex
	interval time.Duration
	kick     chan struct{}
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// intelSettings reads the engine's policy variables.
type intelSettings struct {
	interval, gap     time.Duration
	minSessions, days int
}

func readIntelSettings(pol *config.Policy) intelSettings {
	s := intelSettings{interval: time.Hour, gap: 30 * time.Minute, minSessions: 3, days: 2}
	if pol == nil {
		return s
	}
	str := func(name string) (string, bool) {
		v, ok := pol.Variables[name]
		if !ok || v == nil || v.Value.IsNull() || !v.Value.IsKnown() {
			return "", false
		}
		switch v.Value.Type() {
		case cty.String:
			return v.Value.AsString(), true
		case cty.Number:
			f, _ := v.Value.AsBigFloat().Float64()
			return strconv.FormatFloat(f, 'f', -1, 64), true
		}
		return "", false
	}
	if x, ok := str("intelligence_interval"); ok {
		if d, err := config.ParseDuration(x); err == nil && d > 0 {
			s.interval = d
		}
	}
	if x, ok := str("intelligence_session_gap"); ok {
		if d, err := config.ParseDuration(x); err == nil && d > 0 {
			s.gap = d
		}
	}
	if x, ok := str("intelligence_min_sessions"); ok {
		if n, err := strconv.Atoi(x); err == nil && n > 0 {
			s.minSessions = n
		}
	}
	if x, ok := str("intelligence_min_days"); ok {
		if n, err := strconv.Atoi(x); err == nil && n > 0 {
			s.days = n
		}
	}
	return s
}

func (s *intelSubsystem) Name() string { return "intelligence" }

func (s *intelSubsystem) Start(ctx context.Context, pol *config.Policy) (string, error) {
	h := s.h
	set := readIntelSettings(pol)
	s.eng = intelligence.New(intelligence.Options{
		Store:        h.store,
		Audit:        h.auditLog(),
		Executions:   h.eng(),
		Metrics:      metricSeries{h.metrics},
		MetricSeries: []string{"host.cpu", "host.memory", "api.requests_per_min"},
		PoliciesDir:  h.opts.PoliciesDir,
		LoadOptions: func() config.LoadOptions {
			vars, _ := parseVars(h.opts.Vars)
			return config.LoadOptions{Vars: vars}
		},
		SessionGap: set.gap,
		Mining:     intelligence.MiningOptions{MinSessions: set.minSessions, MinDays: set.days},
		Logger:     h.log.With("subsystem", "intelligence"),
		OnBurst:    s.onBurst,
	})
	if err := s.eng.Load(); err != nil {
		return "", err
	}
	s.eng.SetPolicy(pol)
	s.interval = set.interval
	s.kick = make(chan struct{}, 1)
	s.registerActions()
	// the scaler (or a scaler plugin) asks for the forecast peak ahead
	h.registerMaintenance("intelligence.forecast_peak", func(ctx context.Context, args map[string]any) (map[string]any, error) {
		series, _ := args["series"].(string)
		if series == "" {
			series = "host.cpu"
		}
		look := time.Hour
		if v, ok := args["lookahead"].(string); ok && v != "" {
			d, err := config.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("intelligence: forecast_peak: lookahead: %w", err)
			}
			look = d
		}
		p, err := s.eng.PeakAhead(ctx, series, look)
		if err != nil {
			return nil, err
		}
		return map[string]any{"series": p.Series, "time": p.Time.Format(time.RFC3339), "value": p.Value, "upper": p.Upper}, nil
	})
	if h.apiSvc != nil {
		h.apiSvc.Intelligence = s.eng
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(1)
	go s.loop(lctx)
	return fmt.Sprintf("Intelligence: learning every %s", set.interval), nil
}

func (s *intelSubsystem) Reload(_ context.Context, pol *config.Policy) error {
	s.eng.SetPolicy(pol)
	set := readIntelSettings(pol)
	s.mu.Lock()
	changed := set.interval != s.interval
	s.interval = set.interval
	s.mu.Unlock()
	if changed {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *intelSubsystem) Stop(context.Context) error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return nil
}

// loop runs the learning shortly after start, then every interval.
func (s *intelSubsystem) loop(ctx context.Context) {
	defer s.wg.Done()
	s.mu.Lock()
	first := min(s.interval, 30*time.Second)
	s.mu.Unlock()
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
			if _, err := s.eng.Analyze(ctx); err != nil && ctx.Err() == nil {
				s.h.log.Warn("intelligence analysis failed", "err", err)
			}
		}
		s.mu.Lock()
		next := s.interval
		s.mu.Unlock()
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(next)
	}
}

// metricSeries reads the host's stored metrics for forecasting and anomaly
// detection.
type metricSeries struct{ m *metrics.Store }

func (ms metricSeries) Range(ctx context.Context, series string, from, to time.Time, step time.Duration) ([]intelligence.Point, error) {
	pts, err := ms.m.Range(ctx, series, from, to, step)
	if errors.Is(err, metrics.ErrUnknownSeries) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]intelligence.Point, 0, len(pts))
	for _, p := range pts {
		if p.Count > 0 {
			out = append(out, intelligence.Point{Time: p.Time, Value: p.Value})
		}
	}
	return out, nil
}

// onBurst turns a burst of failures into an insight's security event: an
// audit entry (security for authentication bursts) and a host event.
func (s *intelSubsystem) onBurst(ctx context.Context, b intelligence.Burst) {
	data := map[string]any{"kind": b.Kind, "subject": b.Subject, "count": b.Count,
		"from": b.From.Format(time.RFC3339Nano), "to": b.To.Format(time.RFC3339Nano)}
	s.h.appendAudit(ctx, audit.Entry{Actor: "intelligence", ActorKind: audit.ActorSystem, Action: "intelligence.anomaly",
		ResourceType: "failures", ResourceID: b.Kind, Outcome: audit.OutcomeSuccess, Security: b.Kind == "authentication", Details: data})
	s.h.emitHostEvent(ctx, "intelligence.anomaly", data)
}

// registerActions adds the in-process actions generated workflows use.
func (s *intelSubsystem) registerActions() {
	h := s.h
	h.eng().RegisterAction("heady.run_workflow", func(ctx context.Context, call workflow.ActionCall) (workflow.ActionResult, error) {
		name, _ := call.Inputs["workflow"].(string)
		if name == "" {
			return workflow.ActionResult{ErrorCode: "bad_input", ErrorMessage: "input workflow is required"}, nil
		}
		execCtx, _ := call.Inputs["context"].(map[string]any)
		id, err := h.eng().Execute(ctx, name, execCtx, "workflow:"+call.Workflow)
		if err != nil {
			return workflow.ActionResult{ErrorCode: "execute_failed", ErrorMessage: err.Error()}, nil
		}
		if wait, ok := call.Inputs["wait"].(bool); ok && !wait {
			return workflow.ActionResult{Outputs: map[string]any{"execution_id": id}}, nil
		}
		// wait for the child so that steps run the workflows in order
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			x, err := h.eng().Get(ctx, id)
			if err == nil && x.Status != workflow.StatusPending && x.Status != workflow.StatusRunning {
				out := map[string]any{"execution_id": id, "status": string(x.Status)}
				if x.Status != workflow.StatusSucceeded {
					msg := "workflow " + name + " ended " + string(x.Status)
					if x.Error != nil {
						msg += ": " + x.Error.Message
					}
					return workflow.ActionResult{Outputs: out, ErrorCode: "workflow_failed", ErrorMessage: msg}, nil
				}
				return workflow.ActionResult{Outputs: out}, nil
			}
			select {
			case <-ctx.Done():
				return workflow.ActionResult{}, ctx.Err()
			case <-t.C:
			}
		}
	})
	h.eng().RegisterAction("heady.emit_event", func(ctx context.Context, call workflow.ActionCall) (workflow.ActionResult, error) {
		typ, _ := call.Inputs["type"].(string)
		if typ == "" {
			return workflow.ActionResult{ErrorCode: "bad_input", ErrorMessage: "input type is required"}, nil
		}
		data, _ := call.Inputs["data"].(map[string]any)
		id, err := h.eng().Emit(ctx, events.Event{Type: typ, Data: data, Source: "workflow:" + call.Workflow})
		if err != nil {
			return workflow.ActionResult{ErrorCode: "emit_failed", ErrorMessage: err.Error(), Retryable: true}, nil
		}
		return workflow.ActionResult{Outputs: map[string]any{"event_id": id}}, nil
	})
}

// ContributeStatus fills the intelligence section of GET /status.
func (s *intelSubsystem) ContributeStatus(_ context.Context, st *api.Status) {
	p, pending, high := s.eng.Counts()
	st.Intelligence = api.IntelligenceStatus{LearnedPatterns: p, PendingOptimizations: pending, HighImpactSuggestions: high}
}

var _ StatusContributor = (*intelSubsystem)(nil)
