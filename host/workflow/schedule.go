package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/store"
)

// schedRec is the persisted state of one schedule trigger.
type schedRec struct {
	// Last is the last fire time (or the time the trigger was armed).
	Last time.Time `json:"last"`
}

func schedAdmission(def *wfDef, at time.Time, catchUp bool) *admission {
	data := map[string]any{"scheduled_at": at.UTC().Format(time.RFC3339Nano)}
	if catchUp {
		data["catch_up"] = true
	}
	return &admission{def: def, trig: TriggerInfo{Kind: "schedule", ScheduledAt: at.UTC(), Actor: "scheduler"},
		event: EventInfo{ID: events.NewID(at), Type: "schedule", Source: "scheduler", Time: at.UTC(), Data: data}}
}

// catchUp runs the fires missed while the host was down, per each
// trigger's catch_up policy: skip (default) runs none, once runs one, all
// runs the most recent catch_up_limit (default 10).
func (e *Engine) catchUp(ctx context.Context) error {
	pol := e.pol.Load()
	now := e.now()
	for _, name := range pol.order {
		def := pol.wfs[name]
		if !def.cfg.Enabled {
			continue
		}
		for _, t := range def.triggers {
			if t.sched == nil {
				continue
			}
			var rec schedRec
			err := e.st.GetRecord(t.schedKey, &rec)
			if errors.Is(err, store.ErrNotFound) {
				if err := e.st.Apply(ctx, store.Put(t.schedKey, store.MustEncode(schedRec{Last: now}))); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", t.schedKey, err)
			}
			keep := 1
			if t.cfg.CatchUp == "all" {
				keep = t.cfg.CatchUpLimit
				if keep <= 0 {
					keep = 10
				}
			}
			var missed []time.Time
			cur := rec.Last
			for i := 0; i < 1_000_000; i++ {
				n := t.sched.Next(cur.In(t.loc))
				if n.IsZero() || n.After(now) {
					break
				}
				missed = append(missed, n)
				if len(missed) > 4*keep+64 {
					missed = append(missed[:0], missed[len(missed)-keep:]...)
				}
				cur = n
			}
			if len(missed) > keep {
				missed = missed[len(missed)-keep:]
			}
			var as []*admission
			if t.cfg.CatchUp == "once" || t.cfg.CatchUp == "all" {
				for _, at := range missed {
					as = append(as, schedAdmission(def, at, true))
				}
			}
			last := now
			if err := e.create(ctx, as, []store.Op{store.Put(t.schedKey, store.MustEncode(schedRec{Last: last}))}, false); err != nil {
				return err
			}
			if len(missed) > 0 {
				e.audit(AuditRecord{Actor: "scheduler", Action: "workflow.trigger", ResourceType: "workflow", ResourceID: name, Outcome: "success",
					Details: map[string]any{"catch_up": t.cfg.CatchUp, "missed": len(missed), "started": len(as)}})
			}
		}
	}
	return nil
}

type schedEntry struct {
	def  *wfDef
	t    *trigDef
	next time.Time
}

// scheduler fires schedule triggers on time.
func (e *Engine) scheduler() {
	defer e.bg.Done()
	var entries []*schedEntry
	build := func() {
		entries = entries[:0]
		pol := e.pol.Load()
		now := e.now()
		for _, name := range pol.order {
			def := pol.wfs[name]
			if !def.cfg.Enabled {
				continue
			}
			for _, t := range def.triggers {
				if t.sched == nil {
					continue
				}
				if _, err := e.st.Get(t.schedKey); errors.Is(err, store.ErrNotFound) {
					_ = e.st.Apply(context.Background(), store.Put(t.schedKey, store.MustEncode(schedRec{Last: now})))
				}
				entries = append(entries, &schedEntry{def: def, t: t, next: t.sched.Next(now.In(t.loc))})
			}
		}
	}
	build()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var earliest time.Time
		for _, en := range entries {
			if !en.next.IsZero() && (earliest.IsZero() || en.next.Before(earliest)) {
				earliest = en.next
			}
		}
		d := time.Hour
		if !earliest.IsZero() {
			d = max(earliest.Sub(e.now()), 0)
		}
		timer.Reset(d)
		select {
		case <-e.stopCh:
			return
		case <-e.schedWake:
			build()
		case <-timer.C:
			now := e.now()
			for _, en := range entries {
				if en.next.IsZero() || en.next.After(now) {
					continue
				}
				a := schedAdmission(en.def, en.next, false)
				extra := []store.Op{store.Put(en.t.schedKey, store.MustEncode(schedRec{Last: en.next}))}
				if err := e.create(context.Background(), []*admission{a}, extra, false); err != nil {
					e.log.Error("workflow: schedule fire", "workflow", en.def.cfg.Name, "err", err)
				}
				e.audit(AuditRecord{Actor: "scheduler", Action: "workflow.trigger", ResourceType: "workflow", ResourceID: en.def.cfg.Name,
					Outcome: outcomeOf(a.err), Details: map[string]any{"execution_id": a.id, "scheduled_at": en.next, "schedule": en.t.text}})
				en.next = en.t.sched.Next(now.In(en.t.loc))
			}
		}
	}
}
