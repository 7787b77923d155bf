package workflow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/store"
)

func TestEventTriggerMatching(t *testing.T) {
	t.Parallel()
	users := wf("users", step("s", "heady.noop"))
	users.Triggers = []*config.Trigger{{Kind: config.TriggerEvent, EventType: "user.*", Condition: expr(t, `event.data.plan == "pro"`)}}
	orders := wf("orders", step("s", "heady.noop"))
	orders.Triggers = []*config.Trigger{{Kind: config.TriggerEvent, EventType: "order.?reated"}}
	h := newHarness(t, "", policy(users, orders), Options{}, nil)

	cases := []struct {
		name       string
		ev         events.Event
		wantUsers  bool
		wantOrders bool
	}{
		{"wildcard and condition match", events.Event{Type: "user.created", Data: map[string]any{"plan": "pro"}}, true, false},
		{"wildcard matches nested type", events.Event{Type: "user.profile.updated", Data: map[string]any{"plan": "pro"}}, true, false},
		{"condition false", events.Event{Type: "user.created", Data: map[string]any{"plan": "free"}}, false, false},
		{"condition error (missing attribute) does not match", events.Event{Type: "user.created"}, false, false},
		{"type does not match", events.Event{Type: "order.created", Data: map[string]any{"plan": "pro"}}, false, true},
		{"single-char wildcard", events.Event{Type: "order.Created"}, false, true},
		{"no match at all", events.Event{Type: "orders.created"}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := h.e.AcceptEvent(context.Background(), tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "dispatch", func() bool { return h.e.Inbox().Pending() == 0 })
			got := map[string]bool{}
			for _, w := range []string{"users", "orders"} {
				list, _, err := h.e.List(context.Background(), ListFilter{Workflow: w, Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range list {
					if s.Trigger.EventID == id {
						if got[w] {
							t.Fatalf("event %s started %s twice", id, w)
						}
						got[w] = true
						if s.Trigger.Kind != "event" || s.Trigger.EventType != tc.ev.Type {
							t.Fatalf("trigger %+v", s.Trigger)
						}
					}
				}
			}
			if got["users"] != tc.wantUsers || got["orders"] != tc.wantOrders {
				t.Fatalf("started users=%v orders=%v, want %v %v", got["users"], got["orders"], tc.wantUsers, tc.wantOrders)
			}
		})
	}
}

func TestRetryBackoffTimestamps(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	s := step("flaky", "test.flaky")
	s.Retry = &config.Retry{Attempts: 4, InitialDelay: 100 * time.Millisecond, MaxDelay: 250 * time.Millisecond, Multiplier: 2, RetryOn: []string{"transient"}}
	fatal := step("fatal", "test.fatal")
	fatal.Retry = &config.Retry{Attempts: 5, InitialDelay: time.Millisecond, Multiplier: 2, RetryOn: []string{"transient", "timeout"}}
	h := newHarness(t, "", policy(wf("retry", s), wf("noretry", fatal)), Options{}, func(e *Engine) {
		e.RegisterAction("test.flaky", func(ctx context.Context, c ActionCall) (ActionResult, error) {
			if calls.Add(1) <= 3 {
				return ActionResult{ErrorCode: "busy", ErrorMessage: "try later", Retryable: true}, nil
			}
			return ActionResult{Outputs: map[string]any{"attempt": c.Attempt}}, nil
		})
		e.RegisterAction("test.fatal", func(ctx context.Context, c ActionCall) (ActionResult, error) {
			return ActionResult{ErrorCode: "bad_input", ErrorMessage: "no"}, nil
		})
	})
	t.Run("transient failures retried with capped exponential backoff", func(t *testing.T) {
		x := h.waitDone(h.execute("retry", nil), 10*time.Second)
		if x.Status != StatusSucceeded {
			t.Fatalf("status %s %+v", x.Status, x.Error)
		}
		atts := stepOf(x, "flaky").Attempts
		if len(atts) != 4 {
			t.Fatalf("%d attempts", len(atts))
		}
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond}
		for i, d := range want {
			gap := atts[i+1].StartedAt.Sub(atts[i].EndedAt)
			if gap < d || gap > d+200*time.Millisecond {
				t.Errorf("delay before attempt %d = %s, want %s (+200ms tolerance)", i+2, gap, d)
			}
			if atts[i].NextAttemptAt.IsZero() || atts[i].Error.Code != "busy" {
				t.Errorf("attempt %d: %+v", i+1, atts[i])
			}
			if atts[i].IdempotencyKey == atts[i+1].IdempotencyKey {
				t.Errorf("idempotency keys repeat")
			}
		}
	})
	t.Run("non-retryable code is not retried", func(t *testing.T) {
		x := h.waitDone(h.execute("noretry", nil), 5*time.Second)
		if x.Status != StatusFailed || x.Error == nil || x.Error.Code != "bad_input" || x.Error.Step != "fatal" {
			t.Fatalf("status %s %+v", x.Status, x.Error)
		}
		if n := len(stepOf(x, "fatal").Attempts); n != 1 {
			t.Fatalf("%d attempts", n)
		}
	})
}

func TestBackoffFormula(t *testing.T) {
	t.Parallel()
	rp := config.Retry{InitialDelay: time.Second, Multiplier: 3, MaxDelay: 20 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 3 * time.Second, 3: 9 * time.Second, 4: 20 * time.Second, 40: 20 * time.Second} {
		if got := backoff(rp, n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
	rp.Jitter = 0.5
	for i := 0; i < 200; i++ {
		if d := backoff(rp, 1); d < 500*time.Millisecond || d > 1500*time.Millisecond {
			t.Fatalf("jittered delay %s outside ±50%%", d)
		}
	}
	rp = config.Retry{InitialDelay: time.Second, Multiplier: 2}
	if got := backoff(rp, 31); got != time.Second<<30 {
		t.Fatalf("no max_delay: backoff(31) = %s (no hidden cap expected)", got)
	}
}

func TestStepTimeout(t *testing.T) {
	t.Parallel()
	observed := make(chan error, 1)
	hang := step("hang", "test.hang")
	hang.Timeout = 100 * time.Millisecond
	deaf := step("deaf", "test.deaf")
	deaf.Timeout = 100 * time.Millisecond
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	h := newHarness(t, "", policy(wf("hang", hang), wf("deaf", deaf)), Options{}, func(e *Engine) {
		e.RegisterAction("test.hang", func(ctx context.Context, c ActionCall) (ActionResult, error) {
			<-ctx.Done()
			observed <- ctx.Err()
			return ActionResult{}, ctx.Err()
		})
		e.RegisterAction("test.deaf", func(ctx context.Context, c ActionCall) (ActionResult, error) {
			<-block // ignores its context
			return ActionResult{}, nil
		})
	})
	for _, name := range []string{"hang", "deaf"} {
		t.Run(name, func(t *testing.T) {
			x := h.waitDone(h.execute(name, nil), 5*time.Second)
			a := stepOf(x, name).Attempts[0]
			if x.Status != StatusFailed || a.Error == nil || a.Error.Code != "timeout" {
				t.Fatalf("status %s attempt %+v", x.Status, a)
			}
			if d := a.EndedAt.Sub(a.StartedAt); d < 100*time.Millisecond || d > 2*time.Second {
				t.Fatalf("attempt lasted %s", d)
			}
		})
	}
	select {
	case err := <-observed:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("action saw %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("hanging action never saw its context end")
	}
}

func TestOnFailureAndWorkflowTimeout(t *testing.T) {
	t.Parallel()
	failing := wf("comp", step("a", "heady.noop"), step("b", "test.fail", "a"), step("never", "heady.noop", "b"))
	failing.Steps[0].Input = inputs(t, "x", `"from-a"`)
	failing.OnFailure = []*config.Step{{Name: "undo", Action: "heady.noop", Input: inputs(t,
		"failed_step", `error.step`, "code", `error.code`, "msg", `error.message`, "a_out", `step.a.output.x`)}}
	slow := wf("slow", step("sleep", "test.sleep"))
	slow.Timeout = 150 * time.Millisecond
	slow.OnFailure = []*config.Step{{Name: "alert", Action: "heady.noop", Input: inputs(t, "code", `error.code`)}}
	h := newHarness(t, "", policy(failing, slow), Options{}, func(e *Engine) {
		e.RegisterAction("test.fail", func(context.Context, ActionCall) (ActionResult, error) {
			return ActionResult{ErrorCode: "boom", ErrorMessage: "exploded"}, nil
		})
		e.RegisterAction("test.sleep", func(ctx context.Context, c ActionCall) (ActionResult, error) {
			<-ctx.Done()
			return ActionResult{}, ctx.Err()
		})
	})
	t.Run("on_failure sees error and completed outputs", func(t *testing.T) {
		x := h.waitDone(h.execute("comp", nil), 5*time.Second)
		if x.Status != StatusFailed || x.Error.Step != "b" || x.Error.Code != "boom" {
			t.Fatalf("status %s %+v", x.Status, x.Error)
		}
		if s := stepOf(x, "never"); s != nil {
			t.Fatalf("step after failure ran: %+v", s)
		}
		undo := stepOf(x, "undo")
		if undo == nil || undo.Status != StatusSucceeded || undo.Phase != phaseFailure {
			t.Fatalf("undo %+v", undo)
		}
		out := undo.Output.(map[string]any)
		if out["failed_step"] != "b" || out["code"] != "boom" || out["msg"] != "exploded" || out["a_out"] != "from-a" {
			t.Fatalf("undo inputs %v", out)
		}
	})
	t.Run("workflow timeout fails with code timeout and runs on_failure", func(t *testing.T) {
		start := time.Now()
		x := h.waitDone(h.execute("slow", nil), 5*time.Second)
		if x.Status != StatusFailed || x.Error.Code != "timeout" {
			t.Fatalf("status %s %+v", x.Status, x.Error)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("took %s", el)
		}
		alert := stepOf(x, "alert")
		if alert == nil || alert.Output.(map[string]any)["code"] != "timeout" {
			t.Fatalf("alert %+v", alert)
		}
	})
}

// spanRecorder records when each step ran.
type spanRecorder struct {
	mu    sync.Mutex
	spans map[string][2]time.Time
	cur   int
	peak  int
}

func (s *spanRecorder) action(d time.Duration) ActionFunc {
	return func(ctx context.Context, c ActionCall) (ActionResult, error) {
		s.mu.Lock()
		s.cur++
		s.peak = max(s.peak, s.cur)
		s.mu.Unlock()
		start := time.Now()
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.cur--
		s.spans[c.Step+c.Item] = [2]time.Time{start, time.Now()}
		s.mu.Unlock()
		return ActionResult{Outputs: map[string]any{"item": c.Item, "in": c.Inputs}}, nil
	}
}

func TestDAGParallelAndJoin(t *testing.T) {
	t.Parallel()
	rec := &spanRecorder{spans: map[string][2]time.Time{}}
	w := wf("dag", step("a", "test.span"), step("b", "test.span", "a"), step("c", "test.span", "a"), step("d", "test.span", "b", "c"))
	h := newHarness(t, "", policy(w), Options{}, func(e *Engine) { e.RegisterAction("test.span", rec.action(150*time.Millisecond)) })
	x := h.waitDone(h.execute("dag", nil), 5*time.Second)
	if x.Status != StatusSucceeded {
		t.Fatalf("status %s", x.Status)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	a, b, c, d := rec.spans["a"], rec.spans["b"], rec.spans["c"], rec.spans["d"]
	if !(b[0].Before(c[1]) && c[0].Before(b[1])) {
		t.Fatalf("branches b %v and c %v did not overlap", b, c)
	}
	if b[0].Before(a[1]) || c[0].Before(a[1]) {
		t.Fatal("a branch started before its dependency ended")
	}
	if d[0].Before(b[1]) || d[0].Before(c[1]) {
		t.Fatal("join d started before both branches ended")
	}
}

func TestForEachAndIf(t *testing.T) {
	t.Parallel()
	rec := &spanRecorder{spans: map[string][2]time.Time{}}
	fan := &config.Step{Name: "fan", Action: "test.span", ForEach: expr(t, `event.data.items`), ForEachConcurrency: 2,
		Input: inputs(t, "v", `each.value`, "k", `each.key`)}
	after := &config.Step{Name: "after", Action: "heady.noop", DependsOn: []string{"fan"}, Input: inputs(t, "n", `length(step.fan.output)`, "last", `step.fan.output[5].in.v`)}
	maybe := &config.Step{Name: "maybe", Action: "heady.noop", If: expr(t, `event.data.run == true`)}
	dep := &config.Step{Name: "dep", Action: "heady.noop", DependsOn: []string{"maybe"}, Input: inputs(t, "s", `step.maybe.status`)}
	mapped := &config.Step{Name: "mapped", Action: "heady.noop", ForEach: expr(t, `{x = 1, y = 2}`), Input: inputs(t, "v", `each.value * 10`)}
	bad := &config.Step{Name: "bad", Action: "heady.noop", Input: inputs(t, "v", `event.data.missing.deeper`)}
	h := newHarness(t, "", policy(wf("fan", fan, after, maybe, dep, mapped), wf("bad", bad)), Options{}, func(e *Engine) {
		e.RegisterAction("test.span", rec.action(40*time.Millisecond))
	})
	x := h.waitDone(h.execute("fan", map[string]any{"items": []any{"a", "b", "c", "d", "e", "f"}, "run": false}), 5*time.Second)
	if x.Status != StatusSucceeded {
		t.Fatalf("status %s %+v", x.Status, x.Error)
	}
	t.Run("for_each respects the concurrency cap", func(t *testing.T) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.peak != 2 || len(rec.spans) != 6 {
			t.Fatalf("peak %d spans %d", rec.peak, len(rec.spans))
		}
		if n := len(stepOf(x, "fan").Attempts); n != 6 {
			t.Fatalf("%d attempts", n)
		}
	})
	t.Run("for_each output is a list usable downstream", func(t *testing.T) {
		out := stepOf(x, "after").Output.(map[string]any)
		if out["n"] != float64(6) || out["last"] != "f" {
			t.Fatalf("after %v", out)
		}
	})
	t.Run("map for_each output is keyed", func(t *testing.T) {
		out := stepOf(x, "mapped").Output.(map[string]any)
		if out["y"].(map[string]any)["v"] != float64(20) {
			t.Fatalf("mapped %v", out)
		}
	})
	t.Run("if false skips and dependents still run", func(t *testing.T) {
		if s := stepOf(x, "maybe"); s == nil || s.Status != StatusSkipped {
			t.Fatalf("maybe %+v", s)
		}
		if s := stepOf(x, "dep"); s.Status != StatusSucceeded || s.Output.(map[string]any)["s"] != "skipped" {
			t.Fatalf("dep %+v", s)
		}
	})
	t.Run("expression error names its source range", func(t *testing.T) {
		x := h.waitDone(h.execute("bad", map[string]any{"a": 1}), 5*time.Second)
		if x.Status != StatusFailed || x.Error.Code != "expression" || !contains(x.Error.Message, "test.hcl:1,") {
			t.Fatalf("status %s %+v", x.Status, x.Error)
		}
	})
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// gate is an action that blocks until released (or its context ends).
type gate struct {
	mu      sync.Mutex
	started []string
	release chan struct{}
}

func (g *gate) action(ctx context.Context, c ActionCall) (ActionResult, error) {
	g.mu.Lock()
	g.started = append(g.started, c.ExecutionID)
	g.mu.Unlock()
	select {
	case <-g.release:
		return ActionResult{}, nil
	case <-ctx.Done():
		return ActionResult{}, ctx.Err()
	}
}

func (g *gate) startedIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.started...)
}

func TestConcurrencyPolicies(t *testing.T) {
	t.Parallel()
	mk := func(name, overflow string, size int) *config.Workflow {
		w := wf(name, step("g", "test.gate"))
		w.Concurrency = config.Concurrency{Limit: 1, Overflow: overflow, QueueSize: size}
		return w
	}
	g := &gate{release: make(chan struct{})}
	h := newHarness(t, "", policy(mk("q", "queue", 2), mk("s", "skip", 0), mk("c", "cancel_previous", 0)), Options{}, func(e *Engine) {
		e.RegisterAction("test.gate", g.action)
	})
	ctx := context.Background()

	t.Run("queue", func(t *testing.T) {
		id1 := h.execute("q", nil)
		waitFor(t, 5*time.Second, "first running", func() bool { return len(g.startedIDs()) == 1 })
		id2 := h.execute("q", nil)
		id3 := h.execute("q", nil)
		if _, err := h.e.Execute(ctx, "q", nil, "tester"); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("4th: %v, want ErrQueueFull", err)
		}
		for _, id := range []string{id2, id3} {
			x, _ := h.e.Get(ctx, id)
			if x.Status != StatusPending {
				t.Fatalf("%s is %s, want pending", id, x.Status)
			}
		}
		if st := h.e.Stats(); st.Queued != 2 || st.Running != 1 {
			t.Fatalf("stats %+v", st)
		}
		for i := 0; i < 3; i++ {
			g.release <- struct{}{}
		}
		for _, id := range []string{id1, id2, id3} {
			if x := h.waitDone(id, 5*time.Second); x.Status != StatusSucceeded {
				t.Fatalf("%s: %s", id, x.Status)
			}
		}
		if got := g.startedIDs(); len(got) != 3 || got[0] != id1 || got[1] != id2 || got[2] != id3 {
			t.Fatalf("start order %v, want FIFO %v", got, []string{id1, id2, id3})
		}
	})
	t.Run("skip", func(t *testing.T) {
		before := len(g.startedIDs())
		skippedBefore := h.rec.count("workflow.skipped")
		id1 := h.execute("s", nil)
		waitFor(t, 5*time.Second, "running", func() bool { return len(g.startedIDs()) == before+1 })
		if _, err := h.e.Execute(ctx, "s", nil, "tester"); !errors.Is(err, ErrSkipped) {
			t.Fatalf("second: %v, want ErrSkipped", err)
		}
		if h.rec.count("workflow.skipped") != skippedBefore+1 {
			t.Fatalf("audit %v", h.rec.actions())
		}
		g.release <- struct{}{}
		h.waitDone(id1, 5*time.Second)
		list, _, _ := h.e.List(ctx, ListFilter{Workflow: "s"})
		if len(list) != 1 {
			t.Fatalf("%d executions, want 1", len(list))
		}
	})
	t.Run("cancel_previous", func(t *testing.T) {
		before := len(g.startedIDs())
		id1 := h.execute("c", nil)
		waitFor(t, 5*time.Second, "running", func() bool { return len(g.startedIDs()) == before+1 })
		id2 := h.execute("c", nil)
		x1 := h.waitDone(id1, 5*time.Second)
		if x1.Status != StatusCancelled {
			t.Fatalf("previous is %s", x1.Status)
		}
		waitFor(t, 5*time.Second, "second running", func() bool { return len(g.startedIDs()) == before+2 })
		g.release <- struct{}{}
		if x2 := h.waitDone(id2, 5*time.Second); x2.Status != StatusSucceeded {
			t.Fatalf("new one %s", x2.Status)
		}
	})
}

func TestCancelAndRetryFromFailedStep(t *testing.T) {
	t.Parallel()
	var aCalls, bCalls atomic.Int32
	var failB atomic.Bool
	failB.Store(true)
	g := &gate{release: make(chan struct{})}
	w := wf("r", &config.Step{Name: "a", Action: "test.a"}, &config.Step{Name: "b", Action: "test.b", DependsOn: []string{"a"}, Input: inputs(t, "from_a", `step.a.output.v`)}, step("c", "heady.noop", "b"))
	h := newHarness(t, "", policy(w, wf("long", step("g", "test.gate"))), Options{}, func(e *Engine) {
		e.RegisterAction("test.a", func(context.Context, ActionCall) (ActionResult, error) {
			aCalls.Add(1)
			return ActionResult{Outputs: map[string]any{"v": "A"}}, nil
		})
		e.RegisterAction("test.b", func(_ context.Context, c ActionCall) (ActionResult, error) {
			bCalls.Add(1)
			if failB.Load() {
				return ActionResult{ErrorCode: "down"}, nil
			}
			return ActionResult{Outputs: c.Inputs}, nil
		})
		e.RegisterAction("test.gate", g.action)
	})
	ctx := context.Background()
	t.Run("cancel a running execution", func(t *testing.T) {
		id := h.execute("long", nil)
		waitFor(t, 5*time.Second, "running", func() bool { return len(g.startedIDs()) == 1 })
		if err := h.e.Cancel(ctx, id, "ops"); err != nil {
			t.Fatal(err)
		}
		x, _ := h.e.Get(ctx, id)
		if x.Status != StatusCancelled || stepOf(x, "g").Status != StatusCancelled {
			t.Fatalf("status %s step %+v", x.Status, stepOf(x, "g"))
		}
		if err := h.e.Cancel(ctx, id, "ops"); !errors.Is(err, ErrConflict) {
			t.Fatalf("second cancel: %v", err)
		}
	})
	t.Run("retry reruns from the failed step", func(t *testing.T) {
		id := h.execute("r", nil)
		if x := h.waitDone(id, 5*time.Second); x.Status != StatusFailed {
			t.Fatalf("first run %s", x.Status)
		}
		failB.Store(false)
		id2, err := h.e.Retry(ctx, id, "ops")
		if err != nil {
			t.Fatal(err)
		}
		x := h.waitDone(id2, 5*time.Second)
		if x.Status != StatusSucceeded || x.Trigger.RetryOf != id {
			t.Fatalf("retry %s %+v", x.Status, x.Trigger)
		}
		if aCalls.Load() != 1 || bCalls.Load() != 2 {
			t.Fatalf("a ran %d, b ran %d", aCalls.Load(), bCalls.Load())
		}
		if a := stepOf(x, "a"); a.ReusedFrom != id {
			t.Fatalf("a %+v", a)
		}
		if stepOf(x, "b").Output.(map[string]any)["from_a"] != "A" {
			t.Fatalf("b did not see a's reused output")
		}
		if _, err := h.e.Retry(ctx, id2, "ops"); !errors.Is(err, ErrConflict) {
			t.Fatalf("retry of succeeded: %v", err)
		}
	})
}

func TestWorkflowCompletionTrigger(t *testing.T) {
	t.Parallel()
	up := wf("up", step("s", "heady.noop"))
	onOK := wf("on_ok", step("s", "heady.noop"))
	onOK.Triggers = []*config.Trigger{{Kind: config.TriggerWorkflow, Workflow: "up"}}
	onFail := wf("on_fail", step("s", "heady.noop"))
	onFail.Triggers = []*config.Trigger{{Kind: config.TriggerWorkflow, Workflow: "up", On: "failure"}}
	h := newHarness(t, "", policy(up, onOK, onFail), Options{}, nil)
	id := h.execute("up", nil)
	h.waitDone(id, 5*time.Second)
	var got []ExecutionSummary
	waitFor(t, 5*time.Second, "on_ok to run", func() bool {
		got, _, _ = h.e.List(context.Background(), ListFilter{Workflow: "on_ok", Status: StatusSucceeded})
		return len(got) == 1
	})
	if got[0].Trigger.Kind != "workflow" {
		t.Fatalf("trigger %+v", got[0].Trigger)
	}
	waitFor(t, 5*time.Second, "dispatch", func() bool { return h.e.Inbox().Pending() == 0 })
	if l, _, _ := h.e.List(context.Background(), ListFilter{Workflow: "on_fail"}); len(l) != 0 {
		t.Fatalf("on_fail ran %d times", len(l))
	}
}

func TestScheduleFiresOnTime(t *testing.T) {
	t.Parallel()
	every := wf("every", step("s", "heady.noop"))
	every.Triggers = []*config.Trigger{{Kind: config.TriggerSchedule, Every: time.Second}}
	secs := wf("secs", step("s", "heady.noop"))
	secs.Triggers = []*config.Trigger{{Kind: config.TriggerSchedule, Cron: "*/1 * * * * *", Timezone: "Europe/Paris"}}
	h := newHarness(t, "", policy(every, secs), Options{}, nil)
	for _, name := range []string{"every", "secs"} {
		t.Run(name, func(t *testing.T) {
			var list []ExecutionSummary
			waitFor(t, 6*time.Second, "two fires", func() bool {
				list, _, _ = h.e.List(context.Background(), ListFilter{Workflow: name})
				return len(list) >= 2
			})
			for _, s := range list {
				lag := s.CreatedAt.Sub(s.Trigger.ScheduledAt)
				if s.Trigger.Kind != "schedule" || lag < 0 || lag > 400*time.Millisecond {
					t.Fatalf("fire %+v lag %s", s.Trigger, lag)
				}
			}
			if gap := list[0].Trigger.ScheduledAt.Sub(list[1].Trigger.ScheduledAt); gap != time.Second {
				t.Fatalf("fires %s apart", gap)
			}
			if name == "secs" && list[0].Trigger.ScheduledAt.Nanosecond() != 0 {
				t.Fatalf("cron fire not on a second boundary: %s", list[0].Trigger.ScheduledAt)
			}
		})
	}
	infos := h.e.Workflows()
	if infos[0].NextRun.IsZero() || infos[0].Triggers[0].Kind != "schedule" {
		t.Fatalf("info %+v", infos[0])
	}
}

func TestScheduleCatchUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy string
		limit  int
		want   int
	}{{"skip", 0, 0}, {"once", 0, 1}, {"all", 3, 3}} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			w := wf("cu", step("s", "heady.noop"))
			w.Triggers = []*config.Trigger{{Kind: config.TriggerSchedule, Cron: "@every 1h", CatchUp: tc.policy, CatchUpLimit: tc.limit}}
			d, err := compileWorkflow(w, nil)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			st, err := store.Open(dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			// The host was down for 10 hours.
			if err := st.Apply(context.Background(), store.Put(d.triggers[0].schedKey, store.MustEncode(schedRec{Last: time.Now().Add(-10*time.Hour - time.Minute)}))); err != nil {
				t.Fatal(err)
			}
			st.Close()
			h := newHarness(t, dir, policy(w), Options{}, nil)
			list, _, _ := h.e.List(context.Background(), ListFilter{Workflow: "cu"})
			if len(list) != tc.want {
				t.Fatalf("%d catch-up executions, want %d", len(list), tc.want)
			}
			for _, s := range list {
				if s.Trigger.Kind != "schedule" || time.Since(s.Trigger.ScheduledAt) > 10*time.Hour+2*time.Minute {
					t.Fatalf("trigger %+v", s.Trigger)
				}
			}
		})
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	var now atomic.Pointer[time.Time]
	t0 := time.Now()
	now.Store(&t0)
	clock := func() time.Time { return *now.Load() }
	h := newHarness(t, "", policy(wf("p", step("s", "heady.noop")), wf("o", step("s", "heady.noop"))), Options{Now: clock}, nil)
	var ids []string
	for i := 0; i < 6; i++ {
		id := h.execute("p", nil)
		h.waitDone(id, 5*time.Second)
		ids = append(ids, id)
		later := clock().Add(time.Hour)
		now.Store(&later)
	}
	h.waitDone(h.execute("o", nil), 5*time.Second)
	ctx := context.Background()
	t.Run("by age", func(t *testing.T) {
		n, err := h.e.Prune(ctx, 150*time.Minute, 0)
		if err != nil || n != 4 {
			t.Fatalf("pruned %d, %v; want 4", n, err)
		}
		if _, err := h.e.Get(ctx, ids[0]); !errors.Is(err, ErrNotFound) {
			t.Fatalf("oldest still there: %v", err)
		}
		var left int
		h.st.Scan(store.ScanOptions{Prefix: prefixAttempt + ids[0]}, func(string, []byte) (bool, error) { left++; return true, nil })
		if left != 0 {
			t.Fatalf("%d attempt keys left", left)
		}
	})
	t.Run("by count per workflow", func(t *testing.T) {
		n, err := h.e.Prune(ctx, 0, 1)
		if err != nil || n != 1 {
			t.Fatalf("pruned %d, %v; want 1", n, err)
		}
		list, _, _ := h.e.List(ctx, ListFilter{})
		if len(list) != 2 || list[1].ID != ids[5] {
			t.Fatalf("left %+v", list)
		}
	})
}

func TestWebhookTriggerAndRejection(t *testing.T) {
	t.Parallel()
	w := wf("hooked", &config.Step{Name: "s", Action: "heady.noop", Input: inputs(t, "ref", `event.data.ref`)})
	w.Triggers = []*config.Trigger{{Kind: config.TriggerWebhook, Webhook: "gh"}}
	p := policy(w)
	p.Webhooks = []*config.Webhook{{Name: "gh", Secret: "s3cret"}}
	h := newHarness(t, "", p, Options{}, nil)
	body := []byte(`{"ref":"main"}`)
	ctx := context.Background()
	hdr := func(k, v string) func(string) string {
		return func(n string) string {
			if n == k {
				return v
			}
			return ""
		}
	}
	if _, err := h.e.AcceptWebhook(ctx, "gh", hdr(events.DefaultSignatureHeader, "sha256=00"), body, "127.0.0.1"); !errors.Is(err, events.ErrUnauthorized) {
		t.Fatalf("bad signature: %v", err)
	}
	if h.rec.count("webhook.rejected") != 1 {
		t.Fatalf("rejection not audited: %v", h.rec.actions())
	}
	id, err := h.e.AcceptWebhook(ctx, "gh", hdr(events.DefaultSignatureHeader, events.Sign("s3cret", body)), body, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var list []ExecutionSummary
	waitFor(t, 5*time.Second, "hook execution", func() bool {
		list, _, _ = h.e.List(ctx, ListFilter{Workflow: "hooked", Status: StatusSucceeded})
		return len(list) == 1
	})
	x, _ := h.e.Get(ctx, list[0].ID)
	if x.Trigger.EventID != id || x.Trigger.Kind != "webhook" || stepOf(x, "s").Output.(map[string]any)["ref"] != "main" {
		t.Fatalf("execution %+v", x)
	}
}

func TestUpdatesStream(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "", policy(wf("u", step("a", "heady.noop"), step("b", "heady.noop", "a"))), Options{}, nil)
	var mu sync.Mutex
	var got []string
	unsub := h.e.Subscribe(func(u Update) {
		mu.Lock()
		got = append(got, fmt.Sprintf("%s:%s", u.Step, u.Status))
		mu.Unlock()
	})
	defer unsub()
	h.waitDone(h.execute("u", nil), 5*time.Second)
	want := []string{":running", "a:running", "a:running", "a:succeeded", "a:succeeded", "b:running", "b:running", "b:succeeded", "b:succeeded", ":succeeded"}
	waitFor(t, time.Second, "updates", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= len(want) })
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("updates %v\nwant    %v", got, want)
	}
}
