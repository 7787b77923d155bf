package healing

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/sdk"
)

// scriptedHealer stands in for the healer plugins (tested over real gRPC in
// plugins/heal): it records each call and answers from a script.
type scriptedHealer struct {
	mu     sync.Mutex
	calls  []string
	answer func(strategy string, inc sdk.Incident) (sdk.Outcome, error)
}

func (h *scriptedHealer) Heal(_ context.Context, strategy string, inc sdk.Incident) (sdk.Outcome, error) {
	h.mu.Lock()
	h.calls = append(h.calls, strategy)
	h.mu.Unlock()
	if h.answer != nil {
		return h.answer(strategy, inc)
	}
	return sdk.Outcome{Healed: true}, nil
}

func (h *scriptedHealer) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) emit(_ context.Context, typ string, _ map[string]any) {
	e.mu.Lock()
	e.got = append(e.got, typ)
	e.mu.Unlock()
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// flagCheck is an exec check that passes while the file exists.
func flagCheck(t *testing.T, name string, failures int, heal ...string) (*config.Check, string) {
	t.Helper()
	flag := filepath.Join(t.TempDir(), "ok")
	c := &config.Check{Name: name, Type: "exec", Command: []string{"test", "-e", flag}, Interval: time.Hour, Timeout: 5 * time.Second,
		FailuresBeforeUnhealthy: failures, SuccessesBeforeHealthy: 1}
	for _, s := range heal {
		c.Heal = append(c.Heal, &config.HealStep{Strategy: s})
	}
	return c, flag
}

func setFlag(t *testing.T, path string, ok bool) {
	t.Helper()
	if ok {
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	_ = os.Remove(path)
}

func newEngine(t *testing.T, h Healer, ev *events, alerts *Alerter) *Engine {
	t.Helper()
	e := New(Options{Store: openStore(t), Healer: h, Emit: ev.emit, Alerts: alerts})
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return e
}

func run(t *testing.T, e *Engine, name string) CheckInfo {
	t.Helper()
	ci, err := e.RunCheck(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ci
}

func TestFailuresBeforeUnhealthyAndRecovery(t *testing.T) {
	h := &scriptedHealer{}
	ev := &events{}
	e := newEngine(t, h, ev, nil)
	c, flag := flagCheck(t, "app", 3, "restart")
	e.Apply(context.Background(), []*config.Check{c})
	setFlag(t, flag, true)
	if ci := run(t, e, "app"); ci.State.Status != StatusHealthy {
		t.Fatalf("status %s, want healthy", ci.State.Status)
	}
	setFlag(t, flag, false)
	for i := 1; i <= 2; i++ {
		ci := run(t, e, "app")
		if ci.State.Status != StatusHealthy || len(h.Calls()) != 0 {
			t.Fatalf("after %d failures: status %s, heal calls %v; want healthy and none", i, ci.State.Status, h.Calls())
		}
	}
	ci := run(t, e, "app")
	if ci.State.Status != StatusUnhealthy || len(h.Calls()) != 1 || ci.State.Incident == "" {
		t.Fatalf("after 3 failures: %+v, heal calls %v", ci.State, h.Calls())
	}
	setFlag(t, flag, true)
	ci = run(t, e, "app")
	if ci.State.Status != StatusHealthy || ci.State.ConsecutiveFailures != 0 {
		t.Fatalf("after recovery: %+v", ci.State)
	}
	if st := e.Stats(); st.SuccessfulHealings != 1 || st.FailedHealings != 0 {
		t.Fatalf("stats %+v", st)
	}
	want := []string{EventUnhealthy, EventHealingSucceeded, EventRecovered}
	if got := ev.list(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %v, want %v", got, want)
	}
	incs, _, err := e.Incidents(context.Background(), 10, "", "")
	if err != nil || len(incs) != 1 {
		t.Fatalf("incidents %v %v", incs, err)
	}
	inc := incs[0]
	if inc.Status != IncidentResolved || inc.Outcome != "healed" || inc.Failures != 3 || len(inc.Attempts) != 1 || inc.Attempts[0].Outcome != OutcomeSucceeded {
		t.Fatalf("incident %+v", inc)
	}
	// The counters survive a restart of the engine: they come from the store.
	e2 := New(Options{Store: e.opts.Store})
	if err := e2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e2.Stop(context.Background())
	if st := e2.Stats(); st.SuccessfulHealings != 1 {
		t.Fatalf("stats after restart %+v", st)
	}
}

func TestFlappingCheckDoesNotHeal(t *testing.T) {
	h := &scriptedHealer{}
	e := newEngine(t, h, &events{}, nil)
	c, flag := flagCheck(t, "flappy", 3, "restart")
	e.Apply(context.Background(), []*config.Check{c})
	for i := range 20 {
		setFlag(t, flag, i%3 == 2) // fail, fail, pass, ...
		ci := run(t, e, "flappy")
		if ci.State.Status == StatusUnhealthy {
			t.Fatalf("run %d: unhealthy with at most 2 failures in a row", i)
		}
	}
	if calls := h.Calls(); len(calls) != 0 {
		t.Fatalf("healed a flapping check: %v", calls)
	}
	if ci, _ := e.Check("flappy"); ci.State.Failures < 13 || ci.State.Runs != 20 {
		t.Fatalf("runs %d failures %d", ci.State.Runs, ci.State.Failures)
	}
}

func TestEscalationBudgetAndAlert(t *testing.T) {
	var mu sync.Mutex
	var deliveries []Alert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a Alert
		_ = json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		deliveries = append(deliveries, a)
		mu.Unlock()
	}))
	defer srv.Close()
	alerts := NewAlerter(nil)
	alerts.SetNotifiers([]*config.Notifier{{Name: "ops", Kind: "webhook", URL: srv.URL, Remind: time.Hour}})
	h := &scriptedHealer{answer: func(strategy string, _ sdk.Incident) (sdk.Outcome, error) {
		switch strategy {
		case "broken":
			return sdk.Outcome{Healed: false, Message: "cannot"}, nil
		case "alert":
			return sdk.Outcome{Details: map[string]any{"notified": true}}, nil
		}
		return sdk.Outcome{Healed: true}, nil
	}}
	ev := &events{}
	e := newEngine(t, h, ev, alerts)
	e.opts.RetryAfter = 300 * time.Millisecond
	c, _ := flagCheck(t, "db", 1, "wait_retry", "broken", "restart", "alert")
	e.Apply(context.Background(), []*config.Check{c})

	run(t, e, "db") // unhealthy: wait_retry applied
	if got := h.Calls(); strings.Join(got, ",") != "wait_retry" {
		t.Fatalf("calls %v", got)
	}
	run(t, e, "db") // still failing: broken fails at once, restart applied
	if got := h.Calls(); strings.Join(got, ",") != "wait_retry,broken,restart" {
		t.Fatalf("calls %v", got)
	}
	ci := run(t, e, "db") // still failing: alert, chain exhausted
	if got := h.Calls(); strings.Join(got, ",") != "wait_retry,broken,restart,alert" {
		t.Fatalf("calls %v", got)
	}
	if ci.State.Healing != "exhausted" || ci.State.RetryAt.IsZero() {
		t.Fatalf("state %+v", ci.State)
	}
	for range 3 {
		run(t, e, "db") // no healing before the slow retry
	}
	if n := len(h.Calls()); n != 4 {
		t.Fatalf("healed while exhausted: %v", h.Calls())
	}
	mu.Lock()
	if len(deliveries) != 1 || deliveries[0].Key != "check:db" || deliveries[0].Kind != "alert" {
		t.Fatalf("deliveries %+v", deliveries)
	}
	mu.Unlock()
	if st := e.Stats(); st.FailedHealings != 3 {
		t.Fatalf("failed healings %d, want 3 (wait_retry, broken, restart)", st.FailedHealings)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.Calls()) == 4 && time.Now().Before(deadline) { // until the slow retry comes due
		run(t, e, "db")
	}
	if got := h.Calls(); len(got) != 5 || got[4] != "wait_retry" {
		t.Fatalf("slow retry did not restart the chain: %v", got)
	}
	incs, _, _ := e.Incidents(context.Background(), 10, "", "db")
	if len(incs) != 1 || incs[0].Retries != 1 || len(incs[0].Attempts) != 5 {
		t.Fatalf("incident %+v", incs)
	}
}

func TestHealBudget(t *testing.T) {
	h := &scriptedHealer{}
	e := newEngine(t, h, &events{}, nil)
	e.opts.HealBudget = 2
	c, _ := flagCheck(t, "svc", 1, "restart", "restart", "restart", "restart")
	e.Apply(context.Background(), []*config.Check{c})
	for range 6 {
		run(t, e, "svc")
	}
	if n := len(h.Calls()); n != 2 {
		t.Fatalf("heal calls %d, want 2 (the budget)", n)
	}
	if ci, _ := e.Check("svc"); ci.State.Healing != "exhausted" {
		t.Fatalf("healing %q, want exhausted", ci.State.Healing)
	}
}

func TestIncidentPaging(t *testing.T) {
	e := newEngine(t, &scriptedHealer{}, &events{}, nil)
	c, flag := flagCheck(t, "p", 1)
	e.Apply(context.Background(), []*config.Check{c})
	for range 5 {
		setFlag(t, flag, false)
		run(t, e, "p")
		setFlag(t, flag, true)
		run(t, e, "p")
	}
	var all []Incident
	cursor := ""
	for {
		page, next, err := e.Incidents(context.Background(), 2, cursor, "")
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 5 {
		t.Fatalf("got %d incidents, want 5", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].ID <= all[i].ID {
			t.Fatalf("not newest first: %s then %s", all[i-1].ID, all[i].ID)
		}
		if all[i].Outcome != "recovered" {
			t.Fatalf("outcome %q, want recovered (no healing)", all[i].Outcome)
		}
	}
	if _, err := e.Incident(all[0].ID); err != nil {
		t.Fatal(err)
	}
}

func TestProbes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.Error(w, "nope", 500)
			return
		}
		_, _ = w.Write([]byte(`{"status":"up"}`))
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	e := newEngine(t, nil, &events{}, nil)
	base := config.Check{Timeout: 2 * time.Second}
	mk := func(f func(c *config.Check)) *config.Check { c := base; f(&c); return &c }
	tests := []struct {
		name   string
		check  *config.Check
		wantOK bool
		output string
	}{
		{"http ok", mk(func(c *config.Check) { c.Type, c.URL = "http", srv.URL }), true, "status 200"},
		{"http 500", mk(func(c *config.Check) { c.Type, c.URL = "http", srv.URL+"/bad" }), false, "status 500"},
		{"http expect 500", mk(func(c *config.Check) { c.Type, c.URL, c.ExpectStatus = "http", srv.URL+"/bad", []int{500} }), true, "status 500"},
		{"http body match", mk(func(c *config.Check) { c.Type, c.URL, c.BodyMatch = "http", srv.URL, `"up"` }), true, ""},
		{"http body mismatch", mk(func(c *config.Check) { c.Type, c.URL, c.BodyMatch = "http", srv.URL, `"down"` }), false, "does not match"},
		{"tcp ok", mk(func(c *config.Check) { c.Type, c.Address = "tcp", strings.TrimPrefix(srv.URL, "http://") }), true, "ok"},
		{"tcp refused", mk(func(c *config.Check) { c.Type, c.Address = "tcp", closed }), false, "connect"},
		{"exec ok", mk(func(c *config.Check) { c.Type, c.Command = "exec", []string{"echo", "fine"} }), true, "fine"},
		{"exec fails", mk(func(c *config.Check) { c.Type, c.Command = "exec", []string{"sh", "-c", "echo broken; exit 2"} }), false, "broken"},
		{"exec timeout", mk(func(c *config.Check) {
			c.Type, c.Command, c.Timeout = "exec", []string{"sleep", "5"}, 100*time.Millisecond
		}), false, "no result within"},
		{"disk under threshold", mk(func(c *config.Check) { c.Type, c.Path, c.ThresholdPercent = "disk", t.TempDir(), 100 }), true, "used"},
		{"disk over threshold", mk(func(c *config.Check) { c.Type, c.Path, c.ThresholdPercent = "disk", t.TempDir(), 0 }), false, "used"},
		{"memory over bytes", mk(func(c *config.Check) { c.Type, c.ThresholdBytes = "memory", 1 }), false, "process rss"},
		{"memory under bytes", mk(func(c *config.Check) { c.Type, c.ThresholdBytes = "memory", 1<<50 }), true, "process rss"},
		{"memory host percent", mk(func(c *config.Check) { c.Type, c.ThresholdPercent = "memory", 100 }), true, "host memory"},
		{"store", mk(func(c *config.Check) { c.Type = "store" }), true, "probe ok"},
		{"process without supervisor", mk(func(c *config.Check) { c.Type, c.Service = "process", "api" }), false, "no supervisor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.probe(context.Background(), tc.check)
			if res.OK != tc.wantOK || !strings.Contains(res.Output, tc.output) {
				t.Fatalf("ok=%v output %q; want ok=%v and %q", res.OK, res.Output, tc.wantOK, tc.output)
			}
		})
	}
}

func TestAlerterDedupRemindResolve(t *testing.T) {
	var mu sync.Mutex
	var kinds []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a Alert
		_ = json.NewDecoder(r.Body).Decode(&a)
		if !strings.HasPrefix(r.Header.Get("X-Heady-Signature-256"), "sha256=") {
			t.Errorf("unsigned delivery")
		}
		mu.Lock()
		kinds = append(kinds, a.Kind)
		mu.Unlock()
	}))
	defer srv.Close()
	a := NewAlerter(nil)
	a.SetNotifiers([]*config.Notifier{{Name: "ops", Kind: "webhook", URL: srv.URL, Secret: "s", Remind: time.Minute}})
	ctx := context.Background()
	al := Alert{Key: "service:api", State: "failed", Title: "api failed"}
	if !a.Raise(ctx, al) {
		t.Fatal("first raise not delivered")
	}
	if a.Raise(ctx, al) {
		t.Fatal("repeat delivered")
	}
	if n := a.Remind(ctx, time.Now()); n != 0 {
		t.Fatalf("reminded %d too early", n)
	}
	if n := a.Remind(ctx, time.Now().Add(2*time.Minute)); n != 1 {
		t.Fatalf("reminded %d, want 1", n)
	}
	a.Resolve(ctx, "service:api", "back")
	if len(a.Open()) != 0 {
		t.Fatal("still open")
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(kinds, ",") != "alert,reminder,resolved" {
		t.Fatalf("deliveries %v", kinds)
	}
}

func TestScheduleAndApply(t *testing.T) {
	e := newEngine(t, &scriptedHealer{}, &events{}, nil)
	c, flag := flagCheck(t, "sched", 3)
	c.Interval = 20 * time.Millisecond
	setFlag(t, flag, true)
	st := &config.Check{Name: "db", Type: "store", Interval: time.Hour, Timeout: time.Second, FailuresBeforeUnhealthy: 3, SuccessesBeforeHealthy: 1}
	e.Apply(context.Background(), []*config.Check{c, st})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ci, _ := e.Check("db"); ci.State.Runs != 1 || ci.State.Status != StatusHealthy {
		t.Fatalf("the store check did not run at start: %+v", ci.State)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ci, _ := e.Check("sched")
		if ci.State.Runs >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scheduled runs: %d", ci.State.Runs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Reload: the same check keeps its state, a changed one starts over, a
	// removed one is gone.
	before, _ := e.Check("sched")
	same := *c
	changed := *st
	changed.Timeout = 2 * time.Second
	e.Apply(context.Background(), []*config.Check{&same})
	if _, ok := e.Check("db"); ok {
		t.Fatal("removed check still listed")
	}
	if after, _ := e.Check("sched"); after.State.Runs < before.State.Runs {
		t.Fatalf("state lost on reload: %d runs, had %d", after.State.Runs, before.State.Runs)
	}
	e.Apply(context.Background(), []*config.Check{&same, &changed})
	if ci, _ := e.Check("db"); ci.State.Status != StatusPending || ci.Timeout != "2s" {
		t.Fatalf("changed check: %+v", ci)
	}
	if _, err := e.RunCheck(context.Background(), "nope"); err == nil {
		t.Fatal("unknown check ran")
	}
}

func TestOpenIncidentsClosedOnStart(t *testing.T) {
	st := openStore(t)
	e := New(Options{Store: st, Healer: &scriptedHealer{}})
	c, _ := flagCheck(t, "x", 1, "restart")
	e.Apply(context.Background(), []*config.Check{c})
	run(t, e, "x") // unhealthy, restart pending
	_ = e.Stop(context.Background())
	e2 := New(Options{Store: st})
	if err := e2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e2.Stop(context.Background())
	incs, _, _ := e2.Incidents(context.Background(), 10, "", "")
	if len(incs) != 1 || incs[0].Status != IncidentResolved || incs[0].Outcome != "interrupted" || incs[0].Attempts[0].Outcome != OutcomeUnverified {
		t.Fatalf("incidents %+v", incs)
	}
	if e2.Stats().FailedHealings != 0 {
		t.Fatal("an interrupted attempt counted as a failed healing")
	}
}
