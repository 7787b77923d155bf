package workflow

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/store"
	"github.com/zclconf/go-cty/cty"
)

// admission is one execution about to be created.
type admission struct {
	def   *wfDef
	trig  TriggerInfo
	event EventInfo
	prior *stored

	id     string
	err    error // ErrSkipped or ErrQueueFull: no execution was created
	r      *run
	queued bool
	prev   []*run
}

// create applies each workflow's concurrency policy, writes the new
// executions together with extra (in one Apply) and starts them once durable.
func (e *Engine) create(ctx context.Context, as []*admission, extra []store.Op, dispatched bool) error {
	now := e.now()
	var ops []store.Op
	e.mu.Lock()
	for _, a := range as {
		name := a.def.cfg.Name
		ws := e.state(name)
		cc := a.def.cfg.Concurrency
		h := header{ID: events.NewID(now), Workflow: name, PolicyVersion: a.def.version, Status: StatusRunning,
			Trigger: a.trig, Event: a.event, CreatedAt: now, StartedAt: now}
		if cc.Limit > 0 && len(ws.running) >= cc.Limit {
			switch cc.Overflow {
			case "skip":
				a.err = fmt.Errorf("workflow %s: %d running: %w", name, len(ws.running), ErrSkipped)
				continue
			case "cancel_previous":
				victims := make([]*run, 0, len(ws.running))
				for r := range ws.running {
					victims = append(victims, r)
				}
				sort.Slice(victims, func(i, j int) bool { return victims[i].h.ID < victims[j].h.ID })
				victims = victims[:len(victims)-cc.Limit+1]
				for _, v := range victims {
					delete(ws.running, v)
				}
				a.prev = victims
			default:
				size := cc.QueueSize
				if size <= 0 {
					size = 1000
				}
				if len(ws.queue)+ws.reserved >= size {
					a.err = fmt.Errorf("workflow %s: queue of %d: %w", name, size, ErrQueueFull)
					continue
				}
				h.Status = StatusPending
				h.StartedAt = time.Time{}
				a.queued = true
				ws.reserved++
			}
		}
		r := newRun(e, a.def, h)
		r.prior = a.prior
		r.dispatched = dispatched
		a.r, a.id = r, h.ID
		e.runs[h.ID] = r
		if !a.queued {
			ws.running[r] = struct{}{}
		}
		if dispatched {
			e.active++
		}
		ops = append(ops, putHeader(&h), store.Put(wfIdxKey(name, h.ID), nil), store.Put(activeKey(h.ID), nil))
		if a.prior != nil {
			for _, ss := range a.prior.steps {
				ops = append(ops, putStep(h.ID, ss))
			}
		}
	}
	e.mu.Unlock()
	ops = append(ops, extra...)
	if err := e.st.Apply(context.WithoutCancel(ctx), ops...); err != nil {
		e.mu.Lock()
		for _, a := range as {
			if a.r == nil {
				continue
			}
			ws := e.state(a.def.cfg.Name)
			delete(e.runs, a.id)
			delete(ws.running, a.r)
			if a.queued {
				ws.reserved--
			}
			if dispatched {
				e.active--
			}
		}
		e.mu.Unlock()
		return fmt.Errorf("workflow: create execution: %w", err)
	}
	touched := map[string]bool{}
	e.mu.Lock()
	for _, a := range as {
		if a.queued {
			ws := e.state(a.def.cfg.Name)
			ws.reserved--
			ws.queue = append(ws.queue, a.r)
			touched[a.def.cfg.Name] = true
		}
	}
	e.mu.Unlock()
	for _, a := range as {
		switch {
		case a.err != nil:
			e.audit(AuditRecord{Actor: actorOf(a.trig), Action: "workflow.skipped", ResourceType: "workflow", ResourceID: a.def.cfg.Name,
				Outcome: "failure", Details: map[string]any{"reason": a.err.Error(), "trigger": a.trig.Kind, "event_id": a.trig.EventID}})
		case a.queued:
			e.publish(Update{ExecutionID: a.id, Workflow: a.def.cfg.Name, Status: StatusPending, Time: now})
		default:
			e.publish(Update{ExecutionID: a.id, Workflow: a.def.cfg.Name, Status: StatusRunning, Time: now})
			e.startRun(a.r)
			for _, v := range a.prev {
				v.requestCancel(errCancelPrevious)
			}
		}
	}
	for name := range touched {
		e.pump(name)
	}
	return nil
}

func actorOf(t TriggerInfo) string {
	if t.Actor != "" {
		return t.Actor
	}
	return "system"
}

// dispatcher turns accepted events into executions.
func (e *Engine) dispatcher() {
	defer e.bg.Done()
	for {
		evs, err := e.inbox.Next(e.runCtx, 512)
		if err != nil {
			return
		}
		for {
			e.mu.Lock()
			full := e.active >= e.opts.MaxActive
			e.mu.Unlock()
			if !full {
				break
			}
			select {
			case <-e.activeSig:
			case <-e.stopCh:
				return
			}
		}
		pol := e.pol.Load()
		var as []*admission
		ops := make([]store.Op, 0, len(evs))
		ids := make([]string, 0, len(evs))
		for _, ev := range evs {
			var evVal cty.Value
			for _, name := range pol.order {
				def := pol.wfs[name]
				if !def.cfg.Enabled {
					continue
				}
				kind, ok := e.matches(def, ev, &evVal)
				if !ok {
					continue
				}
				as = append(as, &admission{def: def, trig: TriggerInfo{Kind: kind, EventID: ev.ID, EventType: ev.Type},
					event: EventInfo{ID: ev.ID, Type: ev.Type, Source: ev.Source, Time: ev.Time, Data: ev.Data}})
			}
			ops = append(ops, events.DoneOp(ev.ID))
			ids = append(ids, ev.ID)
		}
		if err := e.create(context.Background(), as, ops, true); err != nil {
			e.log.Error("workflow: dispatch events", "err", err)
			return
		}
		e.inbox.Done(ids...)
	}
}

// matches reports whether ev starts def, and through which trigger kind.
func (e *Engine) matches(def *wfDef, ev events.Event, evVal *cty.Value) (string, bool) {
	for _, t := range def.triggers {
		switch t.cfg.Kind {
		case config.TriggerEvent:
			if !events.Match(t.eventType, ev.Type) {
				continue
			}
			if t.cfg.Condition == nil {
				return "event", true
			}
			if *evVal == cty.NilVal {
				v, err := eventValue(EventInfo{ID: ev.ID, Type: ev.Type, Source: ev.Source, Time: ev.Time, Data: ev.Data})
				if err != nil {
					e.log.Warn("workflow: event data", "event", ev.ID, "err", err)
					return "", false
				}
				*evVal = v
			}
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"event": *evVal, "var": e.varsOf(def)}, Functions: e.funcs}
			ok, err := evalBool(t.cfg.Condition, ctx)
			if err != nil {
				e.log.Warn("workflow: trigger condition", "workflow", def.cfg.Name, "event", ev.ID, "err", err)
				continue
			}
			if ok {
				return "event", true
			}
		case config.TriggerWebhook:
			if ev.Type == t.eventType {
				return "webhook", true
			}
		case config.TriggerWorkflow:
			if ev.Type != "workflow.succeeded" && ev.Type != "workflow.failed" {
				continue
			}
			if w, _ := ev.Data["workflow"].(string); w != t.cfg.Workflow {
				continue
			}
			on := t.cfg.On
			switch {
			case on == "any",
				(on == "" || on == "success") && ev.Type == "workflow.succeeded",
				on == "failure" && ev.Type == "workflow.failed":
				return "workflow", true
			}
		}
	}
	return "", false
}
