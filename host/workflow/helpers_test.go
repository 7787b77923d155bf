package workflow

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/store"
)

func expr(t testing.TB, src string) hcl.Expression {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		t.Fatalf("parse %q: %s", src, diags.Error())
	}
	return e
}

func inputs(t testing.TB, kv ...string) map[string]hcl.Expression {
	m := map[string]hcl.Expression{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = expr(t, kv[i+1])
	}
	return m
}

func policy(wfs ...*config.Workflow) *config.Policy {
	return &config.Policy{Version: "v1", Workflows: wfs}
}

func wf(name string, steps ...*config.Step) *config.Workflow {
	return &config.Workflow{Name: name, Enabled: true, Steps: steps}
}

func step(name, action string, deps ...string) *config.Step {
	return &config.Step{Name: name, Action: action, DependsOn: deps}
}

type harness struct {
	t   testing.TB
	dir string
	st  *store.Store
	e   *Engine
	rec *recorder
}

// recorder is an Auditor that keeps records.
type recorder struct {
	mu   sync.Mutex
	recs []AuditRecord
}

func (r *recorder) Record(_ context.Context, a AuditRecord) {
	r.mu.Lock()
	r.recs = append(r.recs, a)
	r.mu.Unlock()
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, a := range r.recs {
		out = append(out, a.Action)
	}
	return out
}

func (r *recorder) count(action string) int {
	n := 0
	for _, a := range r.actions() {
		if a == action {
			n++
		}
	}
	return n
}

func testLogger() *slog.Logger {
	if os.Getenv("WORKFLOW_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newHarness opens a real Badger store in dir (a new temp dir when empty)
// and an engine over it. setup registers actions before Start.
func newHarness(t testing.TB, dir string, p *config.Policy, opts Options, setup func(*Engine)) *harness {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := store.Open(dir, store.Options{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, st: st, rec: &recorder{}}
	opts.Auditor = h.rec
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	h.e = New(st, opts)
	if setup != nil {
		setup(h.e)
	}
	if err := h.e.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() {
	if h.st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.e.Stop(ctx)
	_ = h.st.Close()
	h.st = nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitDone waits until execution id is finished and returns it.
func (h *harness) waitDone(id string, d time.Duration) *Execution {
	h.t.Helper()
	var x *Execution
	waitFor(h.t, d, "execution "+id+" to finish", func() bool {
		var err error
		x, err = h.e.Get(context.Background(), id)
		return err == nil && x.Status.Finished()
	})
	return x
}

func (h *harness) execute(name string, ctx map[string]any) string {
	h.t.Helper()
	id, err := h.e.Execute(context.Background(), name, ctx, "tester")
	if err != nil {
		h.t.Fatalf("execute %s: %v", name, err)
	}
	return id
}

func stepOf(x *Execution, name string) *StepState {
	for _, s := range x.Steps {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// actionFn adapts a plain function to an action.
func okAction(out map[string]any) ActionFunc {
	return func(context.Context, ActionCall) (ActionResult, error) { return ActionResult{Outputs: out}, nil }
}
