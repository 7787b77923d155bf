package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/healing"
	"github.com/heady-dev/heady/host/pluginhost"
	"github.com/heady-dev/heady/host/services"
	"github.com/heady-dev/heady/host/workflow"
	"github.com/heady-dev/heady/sdk"
)

func init() {
	registerSubsystem(func(h *Host) Subsystem { return &healingSubsystem{h: h} })
}

// healingSubsystem runs the service supervisor and the self-healing engine
// and connects them to the plugins, events, audit trail and API.
type healingSubsystem struct {
	h      *Host
	sup    *services.Supervisor
	eng    *healing.Engine
	alerts *healing.Alerter
	cancel context.CancelFunc
	done   chan struct{}
}

func (s *healingSubsystem) Name() string { return "healing" }

func (s *healingSubsystem) Start(ctx context.Context, pol *config.Policy) (string, error) {
	h := s.h
	log := h.log.With("component", "healing")
	s.alerts = healing.NewAlerter(log)
	s.alerts.SetNotifiers(pol.Alerts)
	s.sup = services.New(services.Options{LogDir: filepath.Join(h.store.Dir(), "logs"), Logger: h.log.With("component", "services"),
		Notify: s.onServiceEvent})
	s.eng = healing.New(healing.Options{
		Store: h.store, Logger: log, Node: pol.Host.Name, Healer: pluginHealer{h.plugins}, Services: s.sup,
		Plugins: h.plugins, Alerts: s.alerts, DecodeOptions: s.decodeHeal,
		Emit: h.emitHostEvent,
		Audit: func(ctx context.Context, action, check, outcome string, details map[string]any) {
			h.appendAudit(ctx, audit.Entry{Actor: "healing", ActorKind: "system", Action: action, ResourceType: "check",
				ResourceID: check, Outcome: outcome, Details: details})
		},
	})
	s.registerOps()
	h.eng().RegisterAction("heady.run_checks", s.runChecksAction)
	h.apiSvc.Healing = s

	if err := s.sup.Apply(ctx, pol.Services); err != nil {
		log.Error("some services did not start", "err", err)
	}
	s.eng.Apply(ctx, pol.Checks)
	if err := s.eng.Start(ctx); err != nil {
		_ = s.sup.Close(ctx)
		return "", err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go func() { defer close(s.done); s.alerts.Run(runCtx) }()
	return fmt.Sprintf("Health monitoring started: %d checks, %d supervised services", len(pol.Checks), len(pol.Services)), nil
}

func (s *healingSubsystem) Reload(ctx context.Context, pol *config.Policy) error {
	s.alerts.SetNotifiers(pol.Alerts)
	if err := s.sup.Apply(ctx, pol.Services); err != nil {
		s.h.log.Error("some services did not start", "err", err)
	}
	s.eng.Apply(ctx, pol.Checks)
	return nil
}

func (s *healingSubsystem) Stop(ctx context.Context) error {
	var errs []error
	if err := s.eng.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.sup.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("services: close: %w", err))
	}
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return errors.Join(errs...)
}

// ContributeHealth reports every check and every supervised service
// ("service:NAME") as a component and the healing counters. A store check
// stands in for the host's own store probe; a check that only borrows the
// name "store" is shown as "check:store" beside that probe.
func (s *healingSubsystem) ContributeHealth(_ context.Context, out *api.Health) {
	checks := s.eng.Checks()
	hasStore := slices.ContainsFunc(checks, func(c healing.CheckInfo) bool { return c.Type == "store" })
	comps := out.Components
	for _, c := range checks {
		name := c.Name
		if c.Name == "store" && !hasStore {
			name = "check:" + c.Name
		}
		comps = append(comps, api.HealthComponent{Name: name, Type: c.Type, Status: c.State.Status, Output: c.State.Output,
			LastCheck: c.State.LastCheck, Since: c.State.Since})
	}
	for _, sv := range s.sup.List() {
		c := api.HealthComponent{Name: "service:" + sv.Name, Type: "service", LastCheck: time.Now(), Since: sv.StartedAt}
		switch sv.State {
		case services.StateRunning:
			c.Status, c.Output = "healthy", fmt.Sprintf("running, pid %d, %d restarts", sv.PID, sv.Restarts)
		case services.StateFailed:
			c.Status, c.Since = "failed", sv.FailedAt
			c.Output = fmt.Sprintf("restart budget exhausted (%d within %s); last exit: %s; next try at %s", sv.MaxRestarts, sv.Window,
				sv.LastExit, sv.RetryAt.UTC().Format(time.RFC3339))
		case services.StateBackoff, services.StateStarting, services.StateStopping:
			c.Status, c.Output = "restarting", "last exit: "+sv.LastExit
		default:
			c.Status, c.Since, c.Output = "down", sv.ExitedAt, sv.State+"; last exit: "+sv.LastExit
		}
		comps = append(comps, c)
	}
	out.Components = comps
	st := s.eng.Stats()
	out.Stats.SuccessfulHealings += st.SuccessfulHealings
	out.Stats.FailedHealings += st.FailedHealings
}

// onServiceEvent turns supervisor events into host events, audit entries
// and, for a failed service, an alert.
func (s *healingSubsystem) onServiceEvent(ctx context.Context, typ string, data map[string]any) {
	h := s.h
	name, _ := data["service"].(string)
	if restart, _ := data["restart"].(bool); typ == services.EventExited && !restart {
		s.eng.WakeService(name) // nobody else brings it back: check now
	}
	h.emitHostEvent(ctx, typ, data)
	outcome := "success"
	if typ != services.EventRestarted {
		outcome = "failure"
	}
	h.appendAudit(ctx, audit.Entry{Actor: "supervisor", ActorKind: "system", Action: typ, ResourceType: "service",
		ResourceID: name, Outcome: outcome, Details: data})
	if typ == services.EventFailed {
		msg := fmt.Sprintf("Service %s exhausted its restart budget (%v restarts within %v); last exit: %v.", name,
			data["max_restarts"], data["window"], data["last_exit"])
		if r, ok := data["retry_at"].(string); ok {
			msg += " Next try at " + r + "."
		}
		s.alerts.Raise(ctx, healing.Alert{Key: "service:" + name, State: services.StateFailed, Severity: "critical",
			Title: "Heady: service " + name + " failed", Message: msg, Details: data})
	}
}

// decodeHeal decodes a heal block against its healer's declared options.
func (s *healingSubsystem) decodeHeal(strategy string, body hcl.Body) (map[string]any, error) {
	name := pluginhost.HealerComponent(strategy)
	info, ok := s.h.plugins.Component(name)
	if !ok {
		return nil, fmt.Errorf("healer %s is not installed", name)
	}
	if info.Kind != sdk.KindHealer {
		return nil, fmt.Errorf("%s is a %s, not a healer", name, info.Kind)
	}
	opts, diags := pluginhost.DecodeConfig(body, info.Inputs, s.h.policy.Load().EvalContext(nil))
	if diags.HasErrors() {
		return nil, errors.New(diags.Error())
	}
	return opts, nil
}

// pluginHealer runs strategies on healer plugins.
type pluginHealer struct{ m *pluginhost.Manager }

func (p pluginHealer) Heal(ctx context.Context, strategy string, inc sdk.Incident) (sdk.Outcome, error) {
	return p.m.Heal(ctx, pluginhost.HealerComponent(strategy), inc)
}

// registerOps adds the host-side operations healers request.
func (s *healingSubsystem) registerOps() {
	h := s.h
	h.registerMaintenance("service.restart", func(ctx context.Context, args map[string]any) (map[string]any, error) {
		name, _ := args["service"].(string)
		reason, _ := args["reason"].(string)
		st, err := s.sup.Restart(ctx, name, services.RestartOptions{Reason: reason})
		if err != nil {
			return nil, err
		}
		return map[string]any{"service": st.Name, "pid": st.PID, "restarts": st.Restarts, "window_restarts": st.WindowRestarts,
			"message": fmt.Sprintf("restarted service %s (pid %d)", st.Name, st.PID)}, nil
	})
	h.registerMaintenance("caches.clear", func(context.Context, map[string]any) (map[string]any, error) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		runtime.GC()
		debug.FreeOSMemory()
		runtime.ReadMemStats(&after)
		return map[string]any{
			"heap_alloc_before": before.HeapAlloc, "heap_alloc_after": after.HeapAlloc,
			"heap_retained_before": before.HeapSys - before.HeapReleased, "heap_retained_after": after.HeapSys - after.HeapReleased,
			"message": fmt.Sprintf("garbage collected and returned memory: heap %d → %d bytes", before.HeapAlloc, after.HeapAlloc),
		}, nil
	})
	h.registerMaintenance("connections.recycle", func(ctx context.Context, _ map[string]any) (map[string]any, error) {
		n := s.eng.RecycleConnections()
		bad := 0
		for _, err := range h.plugins.Ping(ctx) {
			if err != nil {
				bad++
			}
		}
		return map[string]any{"http_clients": n, "plugins_not_answering": bad,
			"message": fmt.Sprintf("closed idle connections of %d HTTP clients; %d plugins not answering (the plugin host restarts crashed ones)", n, bad)}, nil
	})
	h.registerMaintenance("alert.raise", func(ctx context.Context, args map[string]any) (map[string]any, error) {
		check, _ := args["check"].(string)
		sev, _ := args["severity"].(string)
		title, _ := args["title"].(string)
		msg, _ := args["message"].(string)
		sent := s.alerts.Raise(ctx, healing.Alert{Key: "check:" + check, State: healing.StatusUnhealthy, Severity: sev,
			Title: title, Message: msg, Details: args})
		return map[string]any{"delivered": sent, "deduplicated": !sent}, nil
	})
}

// runChecksAction is heady.run_checks: it runs every check now.
func (s *healingSubsystem) runChecksAction(ctx context.Context, _ workflow.ActionCall) (workflow.ActionResult, error) {
	s.eng.RunAll(ctx)
	hl := s.h.Health(ctx)
	unhealthy := []any{}
	comps := []any{}
	for _, c := range hl.Components {
		comps = append(comps, map[string]any{"name": c.Name, "type": c.Type, "status": c.Status, "output": c.Output})
		if c.Status != "healthy" {
			unhealthy = append(unhealthy, c.Name)
		}
	}
	return workflow.ActionResult{Outputs: map[string]any{
		"healthy": hl.OverallStatus == "healthy", "overall_status": hl.OverallStatus,
		"unhealthy": unhealthy, "components": comps, "total_checks": hl.Stats.TotalChecks,
	}}, nil
}

// api.HealingService.

func (s *healingSubsystem) Checks(context.Context) []healing.CheckInfo { return s.eng.Checks() }

func (s *healingSubsystem) RunCheck(ctx context.Context, name string) (healing.CheckInfo, error) {
	return s.eng.RunCheck(ctx, name)
}

func (s *healingSubsystem) Incidents(ctx context.Context, limit int, cursor, check string) ([]healing.Incident, string, error) {
	return s.eng.Incidents(ctx, limit, cursor, check)
}

func (s *healingSubsystem) Incident(_ context.Context, id string) (healing.Incident, error) {
	return s.eng.Incident(id)
}

func (s *healingSubsystem) Alerts(context.Context) []healing.OpenAlert { return s.alerts.Open() }

func (s *healingSubsystem) Services(context.Context) []services.Status { return s.sup.List() }

func (s *healingSubsystem) RestartService(ctx context.Context, name, actor string) (services.Status, error) {
	st, err := s.sup.Restart(ctx, name, services.RestartOptions{Reason: "requested by " + actor, Force: true})
	if err == nil {
		s.alerts.Resolve(ctx, "service:"+name, "service "+name+" restarted by "+actor)
	}
	return st, err
}

var (
	_ Subsystem          = (*healingSubsystem)(nil)
	_ HealthContributor  = (*healingSubsystem)(nil)
	_ api.HealingService = (*healingSubsystem)(nil)
)
