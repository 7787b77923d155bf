package intelligence

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/host/workflow"
)

// trail is an audit trail the test writes with chosen times. The real
// audit log stamps entries with the current time, so a trail spanning days
// cannot be produced through it; this slice serves List the same way.
type trail []audit.Entry

func (t trail) List(_ context.Context, f audit.Filter) ([]audit.Entry, string, error) {
	off := 0
	if f.Cursor != "" {
		off, _ = strconv.Atoi(f.Cursor)
	}
	var out []audit.Entry
	i := off
	for ; i < len(t) && len(out) < f.Limit; i++ {
		if !t[i].Time.Before(f.Since) {
			out = append(out, t[i])
		}
	}
	next := ""
	if i < len(t) {
		next = strconv.Itoa(i)
	}
	return out, next, nil
}

var day0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// genTrail: alice runs deploy then smoke_test then emits release.done on
// each of 5 days (with a random-ish read between), bob does unrelated
// things once per day, and a burst of failed logins comes from one address.
func genTrail() trail {
	var t trail
	seq := 0
	add := func(at time.Time, actor, action, rtype, rid, outcome string, details map[string]any) {
		seq++
		t = append(t, audit.Entry{Seq: uint64(seq), ID: fmt.Sprintf("e%04d", seq), Time: at, Actor: actor, ActorKind: audit.ActorToken,
			Action: action, ResourceType: rtype, ResourceID: rid, Outcome: outcome, Details: details, Source: "127.0.0.1"})
	}
	for d := 0; d < 5; d++ {
		at := day0.Add(time.Duration(d) * 24 * time.Hour)
		add(at, "alice", "workflow.execute", "workflow", "deploy", audit.OutcomeSuccess, nil)
		add(at.Add(time.Minute), "alice", "execution.read", "execution", "x", audit.OutcomeSuccess, nil)
		add(at.Add(2*time.Minute), "alice", "workflow.execute", "workflow", "smoke_test", audit.OutcomeSuccess, nil)
		add(at.Add(3*time.Minute), "alice", "event.accept", "event", "", audit.OutcomeSuccess, map[string]any{"type": "release.done"})
		// a second session the same afternoon with other work
		add(at.Add(5*time.Hour), "alice", "token.create", "token", "ci", audit.OutcomeSuccess, nil)
		add(at.Add(5*time.Hour+time.Minute), "alice", "policy.reload", "", "", audit.OutcomeSuccess, nil)
		add(at.Add(2*time.Hour), "bob", "workflow.execute", "workflow", "report", audit.OutcomeSuccess, nil)
		if d == 0 {
			add(at.Add(2*time.Hour+time.Minute), "bob", "workflow.execute", "workflow", "cleanup", audit.OutcomeFailure, nil)
		}
	}
	for i := 0; i < 6; i++ {
		seq++
		t = append(t, audit.Entry{Seq: uint64(seq), ID: fmt.Sprintf("e%04d", seq), Time: day0.Add(time.Duration(i) * 10 * time.Second),
			Actor: "mallory", ActorKind: audit.ActorAnonymous, Action: "auth.login", Outcome: audit.OutcomeDenied, Source: "10.0.0.9", Security: true})
	}
	// keep time order, as the log does
	for i := 1; i < len(t); i++ {
		for j := i; j > 0 && t[j].Time.Before(t[j-1].Time); j-- {
			t[j], t[j-1] = t[j-1], t[j]
		}
	}
	return t
}

func TestMinePatternsFromAuditTrail(t *testing.T) {
	sessions := Sessionize(genTrail(), 30*time.Minute)
	ps := MinePatterns(sessions, MiningOptions{MinSessions: 3, MinDays: 2})
	if len(ps) == 0 {
		t.Fatal("no patterns")
	}
	top := ps[0]
	want := []string{"workflow.execute workflow/deploy", "workflow.execute workflow/smoke_test", "event.accept release.done"}
	if strings.Join(top.Actions, "|") != strings.Join(want, "|") {
		t.Errorf("top pattern %v, want %v", top.Actions, want)
	}
	if top.Sessions != 5 || top.Days != 5 || !top.Maximal || len(top.Actors) != 1 || top.Actors[0] != "alice" {
		t.Errorf("top pattern %+v", top)
	}
	for _, p := range ps {
		for _, a := range p.Actions {
			if strings.HasPrefix(a, "execution.read") {
				t.Errorf("read-only action mined: %v", p.Actions)
			}
		}
		if len(p.Actions) < 2 {
			t.Errorf("pattern shorter than 2: %v", p.Actions)
		}
	}
	// a sequence from one day only is not enough
	if ps := MinePatterns(sessions[:1], MiningOptions{MinSessions: 1, MinDays: 2}); len(ps) != 0 {
		t.Errorf("one session on one day gave %v", ps)
	}
}

func TestBehaviourInsights(t *testing.T) {
	ins := BehaviourInsights(genTrail())
	kinds := map[string][]Insight{}
	for _, i := range ins {
		kinds[i.Kind] = append(kinds[i.Kind], i)
	}
	if len(kinds["power_user"]) != 1 || kinds["power_user"][0].Subject != "alice" {
		t.Errorf("power users %+v", kinds["power_user"])
	}
	foundBob := false
	for _, f := range kinds["focused_activity"] {
		if f.Subject == "bob" && f.Evidence["resource"] == "workflow/report" {
			foundBob = true
		}
	}
	if !foundBob {
		t.Errorf("bob focuses on workflow/report: %+v", kinds["focused_activity"])
	}
	if len(kinds["peak_hours"]) != 1 || kinds["peak_hours"][0].Evidence["hours"].([]int)[0] != 9 {
		t.Errorf("peak hours %+v", kinds["peak_hours"])
	}
	if len(kinds["failing_action"]) != 1 || kinds["failing_action"][0].Subject != "auth.login" {
		t.Errorf("failing actions %+v", kinds["failing_action"])
	}
}

func TestFailureBursts(t *testing.T) {
	bs := FailureBursts(genTrail(), time.Minute, 5)
	if len(bs) != 1 {
		t.Fatalf("bursts %+v", bs)
	}
	b := bs[0]
	if b.Kind != "authentication" || b.Subject != "10.0.0.9" || b.Count != 6 || len(b.Examples) != 5 {
		t.Errorf("burst %+v", b)
	}
	if bs := FailureBursts(genTrail(), 10*time.Second, 5); len(bs) != 0 {
		t.Errorf("a 10 s window holds at most 2 failures: %+v", bs)
	}
}

func TestReliabilityFindings(t *testing.T) {
	at := day0
	mk := func(id, wf string, st workflow.Status, steps ...*workflow.StepState) *workflow.Execution {
		return &workflow.Execution{ID: id, Workflow: wf, Status: st, Steps: steps}
	}
	step := func(name string, st workflow.Status, code string, d time.Duration) *workflow.StepState {
		s := &workflow.StepState{Name: name, Status: st, StartedAt: at, EndedAt: at.Add(d)}
		if code != "" {
			s.Error = &workflow.ErrorInfo{Step: name, Code: code, Message: code}
		}
		return s
	}
	var execs []*workflow.Execution
	for i := 0; i < 10; i++ {
		st := workflow.StatusSucceeded
		fetch := step("fetch", workflow.StatusSucceeded, "", 100*time.Millisecond)
		if i%3 == 0 {
			st = workflow.StatusFailed
			fetch = step("fetch", workflow.StatusFailed, "infrastructure", 100*time.Millisecond)
		}
		execs = append(execs, mk(fmt.Sprintf("sync-%d", i), "sync", st, fetch, step("render", workflow.StatusSucceeded, "", time.Duration(i+1)*time.Second)))
		execs = append(execs, mk(fmt.Sprintf("broken-%d", i), "broken", workflow.StatusFailed, step("call", workflow.StatusFailed, "timeout", 5*time.Second)))
	}
	retry := func(wf, step string) (bool, bool) { return false, wf == "sync" || wf == "broken" }
	fs := ReliabilityFindings(execs, retry)
	got := map[string]Finding{}
	for _, f := range fs {
		got[f.Kind+" "+f.Workflow+" "+f.Step] = f
	}
	tw, ok := got["transient_without_retry sync fetch"]
	if !ok || tw.Evidence["failures"] != 4 || len(tw.Evidence["example_executions"].([]string)) != 3 || tw.Impact != "high" {
		t.Errorf("transient finding %+v (all %v)", tw, got)
	}
	if _, ok := got["step_timeout broken call"]; !ok {
		t.Errorf("no timeout finding: %v", got)
	}
	if f, ok := got["always_failing broken "]; !ok || f.Evidence["runs"] != 10 {
		t.Errorf("always failing: %+v", f)
	}
	if f, ok := got["slow_step sync render"]; !ok || f.Evidence["p95_ms"] != int64(10000) {
		t.Errorf("slow step: %+v", f)
	}
	// with a retry declared, no transient finding
	fs = ReliabilityFindings(execs, func(string, string) (bool, bool) { return true, true })
	for _, f := range fs {
		if f.Kind == "transient_without_retry" {
			t.Errorf("finding despite retry: %+v", f)
		}
	}
}

// policiesDir copies the default policies into a temporary folder.
func policiesDir(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "policies")
	dst := t.TempDir()
	es, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".hcl") {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
		}
	}
	return dst
}

func TestSuggestionLifecycle(t *testing.T) {
	ctx := context.Background()
	dbDir := t.TempDir()
	st, err := store.Open(dbDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pol := policiesDir(t)
	now := day0.Add(6 * 24 * time.Hour)
	var bursts []Burst
	opts := Options{Store: st, Audit: genTrail(), PoliciesDir: pol, Now: func() time.Time { return now },
		BurstWindow: time.Minute, OnBurst: func(_ context.Context, b Burst) { bursts = append(bursts, b) }}
	e := New(opts)
	if err := e.Load(); err != nil {
		t.Fatal(err)
	}
	r, err := e.Analyze(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Patterns) == 0 || r.NewPending == 0 {
		t.Fatalf("report %+v", r)
	}
	if len(bursts) != 1 || bursts[0].Kind != "authentication" {
		t.Errorf("bursts reported %+v", bursts)
	}
	pending, err := e.Suggestions(StatusPending)
	if err != nil || len(pending) == 0 {
		t.Fatalf("pending %v %v", pending, err)
	}
	var sug Suggestion
	for _, s := range pending {
		if s.Kind == "automation" && strings.Contains(s.Policy, "smoke_test") {
			sug = s
		}
	}
	if sug.ID == "" {
		t.Fatalf("no automation suggestion in %+v", pending)
	}
	for _, want := range []string{`action = "heady.run_workflow"`, `workflow = "deploy"`, `workflow = "smoke_test"`, `action = "heady.emit_event"`, `type = "release.done"`, `depends_on = [`} {
		if !strings.Contains(sug.Policy, want) {
			t.Errorf("generated policy lacks %s:\n%s", want, sug.Policy)
		}
	}
	// the generated HCL loads together with the default policies
	if err := CheckPolicy(pol, sug.File, sug.Policy, config.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	// a second analysis keeps the same IDs and adds nothing new
	r2, err := e.Analyze(ctx)
	if err != nil || r2.NewPending != 0 {
		t.Fatalf("second analysis: new %d err %v", r2.NewPending, err)
	}
	if len(bursts) != 1 {
		t.Errorf("a burst is reported once, got %d", len(bursts))
	}

	applied, err := e.Apply(ctx, sug.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if applied.Status != StatusApplied || applied.ActedBy != "alice" {
		t.Errorf("applied %+v", applied)
	}
	path := filepath.Join(pol, sug.File)
	if b, err := os.ReadFile(path); err != nil || string(b) != sug.Policy {
		t.Fatalf("policy file: %v", err)
	}
	p, diags := config.Load(pol, config.LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("policies with the suggestion: %s", diags.Error())
	}
	found := false
	for _, w := range p.Workflows {
		if strings.HasPrefix(w.Name, "suggested_") && len(w.Steps) == 3 {
			found = true
		}
	}
	if !found {
		t.Errorf("the suggested workflow is not in the loaded set")
	}
	if _, err := e.Apply(ctx, sug.ID, "alice"); !errors.Is(err, ErrState) {
		t.Errorf("second apply: %v", err)
	}
	if _, err := e.Dismiss(ctx, sug.ID, "alice"); !errors.Is(err, ErrState) {
		t.Errorf("dismiss of an applied suggestion: %v", err)
	}

	undone, err := e.Undo(ctx, sug.ID, "bob")
	if err != nil || undone.Status != StatusPending {
		t.Fatalf("undo: %+v %v", undone, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still there after undo: %v", err)
	}
	if _, err := e.Undo(ctx, sug.ID, "bob"); !errors.Is(err, ErrState) {
		t.Errorf("undo of a pending suggestion: %v", err)
	}
	if d, err := e.Dismiss(ctx, sug.ID, "bob"); err != nil || d.Status != StatusDismissed {
		t.Fatalf("dismiss: %+v %v", d, err)
	}
	if _, err := e.Apply(ctx, "nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}

	// persisted: a new engine over the reopened store sees the same state
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := store.Open(dbDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	opts.Store = st2
	e2 := New(opts)
	if err := e2.Load(); err != nil {
		t.Fatal(err)
	}
	got, err := e2.Suggestion(sug.ID)
	if err != nil || got.Status != StatusDismissed {
		t.Errorf("after reopen: %+v %v", got, err)
	}
	if patterns, _, _ := e2.Counts(); patterns != len(r2.Patterns) {
		t.Errorf("patterns after reopen %d, want %d", patterns, len(r2.Patterns))
	}
	// dismissed stays dismissed across analyses
	if _, err := e2.Analyze(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e2.Suggestion(sug.ID); got.Status != StatusDismissed {
		t.Errorf("analysis changed a dismissed suggestion to %s", got.Status)
	}
}

func TestWorkflowForPatternNeedsTwoSteps(t *testing.T) {
	if _, ok := WorkflowForPattern("x", ActionPattern{Actions: []string{"workflow.execute workflow/a", "token.create token/b"}}); ok {
		t.Errorf("one automatable step must not make a workflow")
	}
	hcl, ok := WorkflowForPattern("suggested_x", ActionPattern{Actions: []string{"workflow.execute workflow/a", "workflow.execute workflow/a"}, Actors: []string{"z"}})
	if !ok || !strings.Contains(hcl, `step "run_a_2"`) {
		t.Errorf("repeated step names must be made unique:\n%s", hcl)
	}
}

func TestMemorySeriesRange(t *testing.T) {
	m := NewMemorySeries(48 * time.Hour)
	for i := 0; i < 120; i++ {
		m.Add("cpu", day0.Add(time.Duration(i)*time.Minute), float64(i))
	}
	pts, _ := m.Range(context.Background(), "cpu", day0, day0.Add(2*time.Hour), time.Hour)
	if len(pts) != 2 || pts[0].Value != 29.5 || pts[1].Value != 89.5 || !pts[1].Time.Equal(day0.Add(time.Hour)) {
		t.Errorf("range %+v", pts)
	}
}

func TestCheckPolicyRefusesASetThatWouldNotLoad(t *testing.T) {
	pol := policiesDir(t)
	cases := map[string]string{
		"duplicate workflow name": "workflow \"auto_backup\" {\n  step \"a\" {\n    action = \"heady.noop\"\n  }\n}\n",
		"syntax error":            "workflow \"x\" {\n",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if err := CheckPolicy(pol, "suggested-x.hcl", body, config.LoadOptions{}); !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("got %v for:\n%s", err, body)
			}
		})
	}
	if err := CheckPolicy(pol, "suggested-x.hcl", "workflow \"fine\" {\n  step \"a\" {\n    action = \"heady.noop\"\n  }\n}\n", config.LoadOptions{}); err != nil {
		t.Errorf("a valid addition refused: %v", err)
	}
}
