package workflow

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/store"
)

// TestResumeAfterStop stops the engine while a step runs (the attempt never
// records its end), reopens the store and checks that the execution finishes
// from its first incomplete step, that completed steps are not run again, and
// that a queued execution survives too.
func TestResumeAfterStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var aCalls atomic.Int32
	mkPolicy := func() *config.Policy {
		w := wf("res", step("a", "test.a"), &config.Step{Name: "b", Action: "test.b", DependsOn: []string{"a"}, Input: inputs(t, "a", `step.a.output.v`)}, step("c", "heady.noop", "b"))
		w.Concurrency = config.Concurrency{Limit: 1}
		return policy(w)
	}
	setup := func(block bool) func(*Engine) {
		return func(e *Engine) {
			e.RegisterAction("test.a", func(context.Context, ActionCall) (ActionResult, error) {
				aCalls.Add(1)
				return ActionResult{Outputs: map[string]any{"v": "A"}}, nil
			})
			e.RegisterAction("test.b", func(ctx context.Context, c ActionCall) (ActionResult, error) {
				if block {
					<-ctx.Done()
					return ActionResult{}, ctx.Err()
				}
				return ActionResult{Outputs: c.Inputs}, nil
			})
		}
	}
	h1 := newHarness(t, dir, mkPolicy(), Options{}, setup(true))
	id := h1.execute("res", nil)
	queued := h1.execute("res", nil)
	waitFor(t, 5*time.Second, "b to start", func() bool {
		x, err := h1.e.Get(context.Background(), id)
		return err == nil && stepOf(x, "b") != nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_ = h1.e.Stop(ctx) // b ignores nothing but never ends: Stop gives up
	cancel()
	h1.st.Close()
	h1.st = nil

	h2 := newHarness(t, dir, mkPolicy(), Options{}, setup(false))
	x := h2.waitDone(id, 5*time.Second)
	if x.Status != StatusSucceeded {
		t.Fatalf("status %s %+v", x.Status, x.Error)
	}
	if aCalls.Load() != 2 { // once for each execution, never again for id
		t.Fatalf("a ran %d times", aCalls.Load())
	}
	b := stepOf(x, "b")
	if len(b.Attempts) != 2 || !b.Attempts[0].Interrupted || b.Attempts[1].Status != StatusSucceeded ||
		b.Attempts[1].IdempotencyKey != id+"/b/2" || b.Output.(map[string]any)["a"] != "A" {
		t.Fatalf("b %+v attempts %+v", b, b.Attempts)
	}
	if x2 := h2.waitDone(queued, 5*time.Second); x2.Status != StatusSucceeded || len(stepOf(x2, "a").Attempts) != 1 {
		t.Fatalf("queued execution %s", x2.Status)
	}
}

func TestResumeWithRemovedWorkflow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h1 := newHarness(t, dir, policy(wf("gone", step("g", "test.block"))), Options{}, func(e *Engine) {
		e.RegisterAction("test.block", func(ctx context.Context, _ ActionCall) (ActionResult, error) {
			<-ctx.Done()
			return ActionResult{}, ctx.Err()
		})
	})
	id := h1.execute("gone", nil)
	waitFor(t, 5*time.Second, "step start", func() bool {
		x, err := h1.e.Get(context.Background(), id)
		return err == nil && stepOf(x, "g") != nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_ = h1.e.Stop(ctx)
	cancel()
	h1.st.Close()
	h1.st = nil
	h2 := newHarness(t, dir, policy(wf("other", step("s", "heady.noop"))), Options{}, nil)
	x := h2.waitDone(id, 5*time.Second)
	if x.Status != StatusFailed || x.Error.Code != "definition_changed" || !contains(x.Error.Message, "gone no longer exists") {
		t.Fatalf("status %s %+v", x.Status, x.Error)
	}
}

func TestPendingEventsDispatchedOnStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Events accepted while no dispatcher runs (the host died right after
	// acknowledging them).
	in := events.NewInbox(st, events.Options{})
	want := map[string]bool{}
	for i := 0; i < 20; i++ {
		id, err := in.Accept(context.Background(), events.Event{Type: "thing.happened", Data: map[string]any{"i": i}})
		if err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	st.Close()
	w := wf("ev", step("s", "heady.noop"))
	w.Triggers = []*config.Trigger{{Kind: config.TriggerEvent, EventType: "thing.*"}}
	h := newHarness(t, dir, policy(w), Options{}, nil)
	var list []ExecutionSummary
	waitFor(t, 5*time.Second, "20 executions", func() bool {
		list, _, _ = h.e.List(context.Background(), ListFilter{Workflow: "ev", Status: StatusSucceeded})
		return len(list) == 20
	})
	for _, s := range list {
		if !want[s.Trigger.EventID] {
			t.Fatalf("unexpected event %s", s.Trigger.EventID)
		}
		delete(want, s.Trigger.EventID)
	}
	if len(want) != 0 {
		t.Fatalf("events without execution: %v", want)
	}
}

// TestRetryTimerSurvivesRestart stops the engine while a step waits for its
// retry and checks that, after a restart, the next attempt starts at the
// recorded time.
func TestRetryTimerSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mk := func() *config.Policy {
		s := step("r", "test.flaky")
		s.Retry = &config.Retry{Attempts: 2, InitialDelay: 600 * time.Millisecond, Multiplier: 1}
		return policy(wf("rt", s))
	}
	var calls atomic.Int32
	setup := func(e *Engine) {
		e.RegisterAction("test.flaky", func(context.Context, ActionCall) (ActionResult, error) {
			if calls.Add(1) == 1 {
				return ActionResult{ErrorCode: "flaky"}, nil
			}
			return ActionResult{Outputs: map[string]any{"ok": true}}, nil
		})
	}
	h1 := newHarness(t, dir, mk(), Options{}, setup)
	id := h1.execute("rt", nil)
	var next time.Time
	waitFor(t, 5*time.Second, "retry to be scheduled", func() bool {
		x, err := h1.e.Get(context.Background(), id)
		if err != nil || stepOf(x, "r") == nil || len(stepOf(x, "r").Attempts) == 0 {
			return false
		}
		next = stepOf(x, "r").Attempts[0].NextAttemptAt
		return !next.IsZero()
	})
	h1.close()
	h2 := newHarness(t, dir, mk(), Options{}, setup)
	x := h2.waitDone(id, 5*time.Second)
	atts := stepOf(x, "r").Attempts
	if x.Status != StatusSucceeded || len(atts) != 2 {
		t.Fatalf("status %s, %d attempts", x.Status, len(atts))
	}
	if d := atts[1].StartedAt.Sub(next); d < 0 || d > 300*time.Millisecond {
		t.Fatalf("second attempt at %s, scheduled %s (off by %s)", atts[1].StartedAt, next, d)
	}
}
