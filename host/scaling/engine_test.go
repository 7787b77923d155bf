package scaling

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/metrics"
	"github.com/heady-dev/heady/host/store"
)

// counter is an in-process backend: a count the test can also change
// "outside Heady". The process-pool backend is exercised over real
// processes by the plugin's tests and the end-to-end tests.
type counter struct {
	mu     sync.Mutex
	n      int
	scales []int
	fail   error
}

func (c *counter) Current(context.Context, Policy) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, nil
}

func (c *counter) Scale(_ context.Context, _ Policy, desired int) (Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scales = append(c.scales, desired)
	if c.fail != nil {
		return Result{Current: c.n}, c.fail
	}
	c.n = desired
	return Result{Current: desired, Message: "ok"}, nil
}

func (c *counter) set(n int) { c.mu.Lock(); c.n = n; c.mu.Unlock() }

type fixture struct {
	st   *store.Store
	ms   *metrics.Store
	eng  *Engine
	be   *counter
	now  time.Time
	mu   sync.Mutex
	seen []Decision
}

func newFixture(t *testing.T, ps ...*config.Scaling) *fixture {
	t.Helper()
	f := &fixture{be: &counter{}, now: t0}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	clock := func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	f.ms, err = metrics.Open(context.Background(), st, metrics.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.eng = New(Options{Store: st, Metrics: f.ms, Backend: f.be, Now: clock,
		Notify: func(_ context.Context, d Decision) { f.mu.Lock(); f.seen = append(f.seen, d); f.mu.Unlock() }})
	var pols []Policy
	for _, p := range ps {
		pols = append(pols, Policy{Spec: p})
	}
	f.eng.SetPolicies(pols)
	return f
}

func (f *fixture) advance(d time.Duration) { f.mu.Lock(); f.now = f.now.Add(d); f.mu.Unlock() }

func (f *fixture) push(t *testing.T, series string, v float64) {
	t.Helper()
	f.mu.Lock()
	now := f.now
	f.mu.Unlock()
	if err := f.ms.Record(context.Background(), []metrics.Sample{{Series: series, Time: now, Value: v}}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) eval(t *testing.T, name string) Decision {
	t.Helper()
	d, err := f.eng.Evaluate(context.Background(), name, "api")
	if err != nil && d.Action != ActionError {
		t.Fatal(err)
	}
	return d
}

func short(mod ...func(*config.Scaling)) *config.Scaling {
	p := &config.Scaling{Name: "web", Backend: "process_pool", Mode: "threshold", Min: 1, Max: 3, Step: 1, Cooldown: 10 * time.Second,
		StabilizationWindow: 30 * time.Second, EvaluationInterval: 5 * time.Second, MissingMetric: "hold",
		Metrics: []*config.ScalingMetric{{Name: "requests_per_min", ScaleUp: 600, ScaleDown: 60}}}
	for _, m := range mod {
		m(p)
	}
	return p
}

func TestEngineScalesAndRestores(t *testing.T) {
	f := newFixture(t, short())
	ctx := context.Background()
	// First evaluation: the pool is empty, below min.
	f.push(t, "service.web.requests_per_min", 0)
	d := f.eval(t, "web")
	if d.Action != ActionScaleUp || d.To != 1 || !d.Applied || !strings.Contains(d.Reason, "below min") {
		t.Fatalf("first decision = %+v", d)
	}
	// Load: scale up once per cooldown, capped at max.
	var counts []int
	for i := 0; i < 8; i++ {
		f.advance(5 * time.Second)
		f.push(t, "service.web.requests_per_min", 3000)
		d = f.eval(t, "web")
		counts = append(counts, f.be.n)
	}
	if want := []int{1, 2, 2, 3, 3, 3, 3, 3}; !equal(counts, want) {
		t.Fatalf("counts under load = %v, want %v", counts, want)
	}
	if d.Action != ActionHold || d.From != 3 {
		t.Fatalf("at max = %+v", d)
	}
	lastUp := f.now
	// Quiet: nothing happens until the window (30 s) has passed since the
	// last high recommendation.
	var downAt time.Time
	for i := 0; i < 12 && downAt.IsZero(); i++ {
		f.advance(5 * time.Second)
		f.push(t, "service.web.requests_per_min", 0)
		d = f.eval(t, "web")
		if d.Action == ActionScaleDown {
			downAt = d.Time
		}
	}
	if downAt.IsZero() || downAt.Sub(lastUp) < 30*time.Second {
		t.Fatalf("scaled down at %v, %v after the last high recommendation; want at least the 30s window", downAt, downAt.Sub(lastUp))
	}
	// An instance lost outside Heady is noticed and restored.
	f.be.set(1)
	f.advance(5 * time.Second)
	f.push(t, "service.web.requests_per_min", 100) // within thresholds
	d = f.eval(t, "web")
	if d.Action != ActionScaleUp || d.From != 1 || d.To != 2 || !strings.Contains(d.Reason, "restore") {
		t.Fatalf("restore decision = %+v", d)
	}

	// History: newest first, paginated, with every decision recorded.
	all, _, err := f.eng.History(ctx, HistoryFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(f.seen) || all[0].ID != d.ID {
		t.Fatalf("history has %d decisions (newest %s), notified %d (last %s)", len(all), all[0].ID, len(f.seen), d.ID)
	}
	page1, next, err := f.eng.History(ctx, HistoryFilter{Limit: 3})
	if err != nil || len(page1) != 3 || next == "" {
		t.Fatalf("page 1 = %d, %q, %v", len(page1), next, err)
	}
	page2, _, err := f.eng.History(ctx, HistoryFilter{Limit: 3, Cursor: next})
	if err != nil || len(page2) != 3 || page2[0].ID != all[3].ID {
		t.Fatalf("page 2 starts at %v, want %s", page2, all[3].ID)
	}
	ups, _, _ := f.eng.History(ctx, HistoryFilter{Actions: []string{ActionScaleUp}})
	if len(ups) != 4 {
		t.Fatalf("scale-ups = %d, want 4 (min, two under load, restore)", len(ups))
	}

	// The state survives a new engine on the same store.
	e2 := New(Options{Store: f.st, Metrics: f.ms, Backend: f.be, Now: func() time.Time { return f.now }})
	e2.SetPolicies([]Policy{{Spec: short()}})
	v := e2.Policies(ctx)
	if len(v) != 1 || v[0].Desired != 2 {
		t.Fatalf("reloaded view = %+v", v)
	}
}

func TestEngineMissingMetric(t *testing.T) {
	tests := []struct {
		missing    string
		wantAction string
		wantCount  int
		wantReason string
	}{
		{"hold", ActionHold, 2, "hold: metric queue_depth missing"},
		{"scale_up", ActionScaleUp, 3, "metric queue_depth missing: scale up"},
		{"fail", ActionError, 2, "fail: metric queue_depth missing"},
	}
	for _, tt := range tests {
		t.Run(tt.missing, func(t *testing.T) {
			f := newFixture(t, short(func(p *config.Scaling) {
				p.MissingMetric = tt.missing
				p.Metrics = []*config.ScalingMetric{{Name: "queue_depth", ScaleUp: 100, ScaleDown: 10}}
			}))
			f.be.set(2)
			d := f.eval(t, "web")
			if d.Action != tt.wantAction || f.be.n != tt.wantCount || !strings.Contains(d.Reason, tt.wantReason) {
				t.Fatalf("decision %s %q, count %d; want %s %q, count %d", d.Action, d.Reason, f.be.n, tt.wantAction, tt.wantReason, tt.wantCount)
			}
			if len(d.Missing) != 1 || d.Missing[0] != "queue_depth" {
				t.Fatalf("missing = %v", d.Missing)
			}
			// Once pushed (custom.queue_depth), the metric is used.
			f.push(t, "custom.queue_depth", 50)
			d = f.eval(t, "web")
			if d.Metrics["queue_depth"] != 50 || len(d.Missing) != 0 {
				t.Fatalf("after push: %+v", d)
			}
		})
	}
}

func TestEngineDryRunAndTicker(t *testing.T) {
	f := newFixture(t, short(func(p *config.Scaling) { p.DryRun = true; p.Backend = ""; p.EvaluationInterval = 20 * time.Millisecond }))
	f.push(t, "api.requests_per_min", 5000)
	ctx := context.Background()
	if err := f.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer f.eng.Stop(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.seen)
		var first Decision
		if n > 0 {
			first = f.seen[0]
		}
		f.mu.Unlock()
		if n > 0 {
			if first.Action != ActionScaleUp || first.Applied || !strings.HasPrefix(first.Reason, "dry_run: ") || first.Trigger != "schedule" || first.To != 2 {
				t.Fatalf("dry-run decision = %+v", first)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the policy's ticker never evaluated it")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(f.be.scales) != 0 {
		t.Fatalf("dry run called the backend: %v", f.be.scales)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEngineBackendFailure(t *testing.T) {
	f := newFixture(t, short())
	f.be.set(1)
	f.be.fail = errors.New("no capacity")
	f.push(t, "service.web.requests_per_min", 3000)
	d, err := f.eng.Evaluate(context.Background(), "web", "api")
	if err == nil || d.Action != ActionScaleUp || d.Applied || d.Error != "no capacity" || d.Current != 1 {
		t.Fatalf("failed scale-up = %+v, %v", d, err)
	}
	// The next try waits for the cooldown instead of hammering the backend.
	f.advance(time.Second)
	f.push(t, "service.web.requests_per_min", 3000)
	d = f.eval(t, "web")
	if d.Action != ActionHold || !strings.Contains(d.Reason, "cooldown") || len(f.be.scales) != 1 {
		t.Fatalf("retry = %+v after %d calls", d, len(f.be.scales))
	}
	f.be.fail = nil
	f.advance(10 * time.Second)
	f.push(t, "service.web.requests_per_min", 3000)
	if d = f.eval(t, "web"); !d.Applied || f.be.n != 2 {
		t.Fatalf("after the cooldown = %+v", d)
	}
}
