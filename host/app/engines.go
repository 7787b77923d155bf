package app

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/pluginhost"
	"github.com/heady-dev/heady/host/workflow"
	"github.com/heady-dev/heady/sdk"
)

// pluginActions runs workflow steps on plugin components.
type pluginActions struct{ m *pluginhost.Manager }

func (a pluginActions) RunAction(ctx context.Context, call workflow.ActionCall) (workflow.ActionResult, error) {
	req := sdk.ActionRequest{Inputs: call.Inputs, IdempotencyKey: call.IdempotencyKey, ExecutionID: call.ExecutionID,
		Workflow: call.Workflow, Step: call.Step, Attempt: call.Attempt}
	if dl, ok := ctx.Deadline(); ok {
		req.Deadline = dl
	}
	resp, err := a.m.RunAction(ctx, call.Action, req)
	res := workflow.ActionResult{Outputs: resp.Outputs}
	for _, l := range resp.Logs {
		res.Logs = append(res.Logs, workflow.LogLine{Time: l.Time, Level: l.Level, Message: l.Message})
	}
	if err != nil {
		var se *sdk.Error
		if !errors.As(err, &se) {
			return res, err
		}
		res.ErrorCode, res.ErrorMessage, res.Retryable = se.Code, se.Error(), se.Retryable
	}
	return res, nil
}

// engineAuditor records workflow facts in the audit trail.
type engineAuditor struct{ h *Host }

func (a engineAuditor) Record(ctx context.Context, r workflow.AuditRecord) {
	kind := "system"
	actor := r.Actor
	if actor == "" {
		actor = "workflow-engine"
	}
	a.h.appendAudit(ctx, audit.Entry{Actor: actor, ActorKind: kind, Action: r.Action, ResourceType: r.ResourceType,
		ResourceID: r.ResourceID, Outcome: r.Outcome, Details: r.Details, Security: r.Outcome == "denied"})
}

// pluginRecorder records plugin lifecycle events in the audit trail.
type pluginRecorder struct{ h *Host }

func (p pluginRecorder) Record(ctx context.Context, e pluginhost.LifecycleEvent) {
	outcome := "success"
	switch e.Kind {
	case pluginhost.EventCrashed, pluginhost.EventFailed:
		outcome = "failure"
	case pluginhost.EventRefused:
		outcome = "denied"
	}
	p.h.appendAudit(ctx, audit.Entry{Actor: "plugin-host", ActorKind: "system", Action: "plugin." + string(e.Kind),
		ResourceType: "plugin", ResourceID: e.Plugin, Outcome: outcome, Security: e.Security,
		Details: map[string]any{"pid": e.PID, "restarts": e.Restarts, "error": e.Error, "version": e.Version, "sha256": e.SHA256, "path": e.Path}})
	if h := p.h; h.eng() != nil && (e.Kind == pluginhost.EventCrashed || e.Kind == pluginhost.EventRefused || e.Kind == pluginhost.EventFailed) {
		_, _ = h.eng().Emit(ctx, events.Event{Type: "plugin." + string(e.Kind), Data: map[string]any{"plugin": e.Plugin, "error": e.Error}})
	}
}

// hostServices serve the plugins' host callbacks.
type hostServices struct{ h *Host }

func (s hostServices) EmitEvent(ctx context.Context, plugin, eventType string, data map[string]any) error {
	_, err := s.h.eng().AcceptEvent(ctx, events.Event{Type: eventType, Data: data, Source: "plugin:" + plugin})
	return err
}

func (s hostServices) RunWorkflow(ctx context.Context, plugin, name string, input map[string]any) (string, error) {
	return s.h.eng().Execute(ctx, name, input, "plugin:"+plugin)
}

func (s hostServices) Metrics(context.Context) (map[string]float64, error) {
	cpu, mem := s.h.sampler.current()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return map[string]float64{"cpu": cpu, "memory": mem, "heap_alloc_bytes": float64(ms.HeapAlloc)}, nil
}

func (s hostServices) Maintenance(ctx context.Context, plugin, op string, args map[string]any) (map[string]any, error) {
	var out map[string]any
	var err error
	if fn, ok := s.h.maintOp(op); ok {
		out, err = fn(ctx, args)
	} else if s.h.maint != nil {
		out, err = s.h.maint.Do(ctx, op, args)
	} else {
		return nil, fmt.Errorf("maintenance %s: not available", op)
	}
	outcome := "success"
	if err != nil {
		outcome = "failure"
	}
	s.h.appendAudit(ctx, audit.Entry{Actor: "plugin:" + plugin, ActorKind: "plugin", Action: "maintenance." + op,
		ResourceType: "store", ResourceID: op, Outcome: outcome, Details: map[string]any{"args": args}})
	return out, err
}

// registerBuiltins adds the host's own in-process actions (heady.*).
func (h *Host) registerBuiltins(e *workflow.Engine) {
	e.RegisterAction("heady.run_checks", func(ctx context.Context, _ workflow.ActionCall) (workflow.ActionResult, error) {
		hl := h.Health(ctx)
		unhealthy := []any{}
		comps := []any{}
		for _, c := range hl.Components {
			comps = append(comps, map[string]any{"name": c.Name, "status": c.Status, "output": c.Output})
			if c.Status != "healthy" {
				unhealthy = append(unhealthy, c.Name)
			}
		}
		return workflow.ActionResult{Outputs: map[string]any{
			"healthy": hl.OverallStatus == "healthy", "overall_status": hl.OverallStatus,
			"unhealthy": unhealthy, "components": comps, "total_checks": hl.Stats.TotalChecks,
		}}, nil
	})
	e.RegisterAction("heady.clear_caches", func(context.Context, workflow.ActionCall) (workflow.ActionResult, error) {
		freed := h.clearCaches()
		return workflow.ActionResult{Outputs: map[string]any{"heap_freed_bytes": freed}}, nil
	})
	e.RegisterAction("heady.evaluate_scaling", func(context.Context, workflow.ActionCall) (workflow.ActionResult, error) {
		return workflow.ActionResult{Outputs: map[string]any{"policies": 0, "decisions": []any{}}}, nil
	})
}

// clearCaches runs a full GC and returns memory to the OS; it reports the
// heap bytes released.
func (h *Host) clearCaches() int64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&after)
	return int64(before.HeapInuse) - int64(after.HeapInuse)
}

// appendAudit records an entry with a bounded, uncancelled context.
func (h *Host) appendAudit(ctx context.Context, e audit.Entry) {
	lg := h.auditLog()
	if lg == nil || !h.auditsHere() {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := lg.Append(actx, e); err != nil && h.log != nil {
		h.log.Error("audit append failed", "action", e.Action, "err", err)
	}
}

// emitHostEvent publishes one of the host's own events.
func (h *Host) emitHostEvent(ctx context.Context, typ string, data map[string]any) {
	if h.eng() == nil {
		return
	}
	if _, err := h.eng().Emit(ctx, events.Event{Type: typ, Data: data, Source: "host"}); err != nil {
		h.log.Warn("host event not stored", "type", typ, "err", err)
	}
}

// MaintenanceFunc is a host-side operation plugins request through the
// Maintenance callback ("caches.clear", "service.restart", ...).
type MaintenanceFunc func(ctx context.Context, args map[string]any) (map[string]any, error)

// registerMaintenance makes op available to plugins; subsystems call it
// from their Start.
func (h *Host) registerMaintenance(op string, fn MaintenanceFunc) {
	h.maintMu.Lock()
	defer h.maintMu.Unlock()
	if h.maintOps == nil {
		h.maintOps = map[string]MaintenanceFunc{}
	}
	h.maintOps[op] = fn
}

func (h *Host) maintOp(op string) (MaintenanceFunc, bool) {
	h.maintMu.RLock()
	defer h.maintMu.RUnlock()
	fn, ok := h.maintOps[op]
	return fn, ok
}
