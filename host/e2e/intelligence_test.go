package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/intelligence"
	"github.com/heady-dev/heady/host/workflow"
)

// TestIntelligenceSuggestionApplyRunsAndUndo: three operators each run
// prepare then publish by hand; the learning turns the repeated sequence
// into a suggested workflow; applying it writes a policy file that the host
// reloads; the new workflow runs both workflows in order; undo removes it.
func TestIntelligenceSuggestionApplyRunsAndUndo(t *testing.T) {
	t.Parallel()
	dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, dir, "manual.hcl", manualWorkflows)
	h := startHost(t, hostOpts{policies: dir, args: learnQuickly})
	adm := h.admin()
	seedRepeatedSequence(t, h)
	// a burst of refused credentials from one address
	bad := h.client("hdy_00000000000bad01_0000000000000000000000000000000000000000000000000000000000000000")
	for i := 0; i < 6; i++ {
		if err := bad.Do(bg(), http.MethodPost, "/workflows/prepare/execute", map[string]any{}, nil); err == nil {
			t.Fatal("a bad token was accepted")
		}
	}
	var ar api.AnalyzeResponse
	if err := adm.Do(bg(), http.MethodPost, "/intelligence/analyze", nil, &ar); err != nil {
		t.Fatal(err)
	}
	if ar.Patterns == 0 || ar.NewSuggestions == 0 {
		t.Fatalf("analysis %+v", ar)
	}
	var page api.Page[intelligence.Suggestion]
	if err := adm.Do(bg(), http.MethodGet, "/intelligence/suggestions?status=pending", nil, &page); err != nil {
		t.Fatal(err)
	}
	var sug intelligence.Suggestion
	for _, s := range page.Items {
		if s.Kind == "automation" && strings.Contains(s.Policy, `"prepare"`) && strings.Contains(s.Policy, `"publish"`) {
			sug = s
		}
	}
	if sug.ID == "" {
		t.Fatalf("no automation suggestion among %+v", page.Items)
	}
	var st api.Status
	if err := adm.Do(bg(), http.MethodGet, "/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Intelligence.LearnedPatterns == 0 || st.Intelligence.PendingOptimizations == 0 {
		t.Errorf("status intelligence %+v", st.Intelligence)
	}
	var ins api.InsightsResponse
	if err := adm.Do(bg(), http.MethodGet, "/intelligence/insights", nil, &ins); err != nil || len(ins.Patterns) == 0 {
		t.Fatalf("insights %+v %v", ins, err)
	}

	var applied intelligence.Suggestion
	if err := adm.Do(bg(), http.MethodPost, "/intelligence/suggestions/"+sug.ID+"/apply", nil, &applied); err != nil {
		t.Fatal(err)
	}
	if applied.Status != intelligence.StatusApplied {
		t.Fatalf("applied %+v", applied)
	}
	if _, err := os.Stat(filepath.Join(dir, sug.File)); err != nil {
		t.Fatalf("policy file: %v", err)
	}
	name := "suggested_" + sug.ID[:8]
	eventually(t, 15*time.Second, "the suggested workflow is loaded", func() bool {
		var wi workflow.WorkflowInfo
		return adm.Do(bg(), http.MethodGet, "/workflows/"+name, nil, &wi) == nil
	})
	x := runToEnd(t, h, name, nil, 20*time.Second)
	if x.Status != workflow.StatusSucceeded || len(x.Steps) != 2 {
		t.Fatalf("execution %+v", x)
	}
	// both manual workflows ran once more, publish after prepare
	var ends [2]time.Time
	for i, wf := range []string{"prepare", "publish"} {
		var ep api.Page[workflow.ExecutionSummary]
		if err := adm.Do(bg(), http.MethodGet, "/workflows/"+wf+"/executions", nil, &ep); err != nil {
			t.Fatal(err)
		}
		if len(ep.Items) != 4 || ep.Items[0].Trigger.Actor != "workflow:"+name {
			t.Fatalf("%s executions %+v", wf, ep.Items)
		}
		ends[i] = ep.Items[0].EndedAt
		if i == 1 && ep.Items[0].StartedAt.Before(ends[0]) {
			t.Errorf("publish started %s before prepare ended %s", ep.Items[0].StartedAt, ends[0])
		}
	}
	var logs api.Page[map[string]any]
	if err := adm.Do(bg(), http.MethodGet, "/audit/logs?action=intelligence.suggestion.apply", nil, &logs); err != nil || len(logs.Items) != 1 {
		t.Errorf("apply audit entries %v %v", logs.Items, err)
	}

	var undone intelligence.Suggestion
	if err := adm.Do(bg(), http.MethodPost, "/intelligence/suggestions/"+sug.ID+"/undo", nil, &undone); err != nil || undone.Status != intelligence.StatusPending {
		t.Fatalf("undo %+v %v", undone, err)
	}
	eventually(t, 15*time.Second, "the suggested workflow is unloaded", func() bool {
		var wi workflow.WorkflowInfo
		return adm.Do(bg(), http.MethodGet, "/workflows/"+name, nil, &wi) != nil
	})
	var dismissed intelligence.Suggestion
	if err := adm.Do(bg(), http.MethodPost, "/intelligence/suggestions/"+sug.ID+"/dismiss", nil, &dismissed); err != nil || dismissed.Status != intelligence.StatusDismissed {
		t.Fatalf("dismiss %+v %v", dismissed, err)
	}
	if err := adm.Do(bg(), http.MethodPost, "/intelligence/suggestions/nope/apply", nil, nil); err == nil || !strings.Contains(err.Error(), "not_found") && !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown suggestion: %v", err)
	}
	var an api.AnomaliesResponse
	if err := adm.Do(bg(), http.MethodGet, "/intelligence/anomalies", nil, &an); err != nil {
		t.Fatalf("anomalies: %v", err)
	}
	if len(an.Bursts) != 1 || an.Bursts[0].Kind != "authentication" || an.Bursts[0].Count < 5 {
		t.Errorf("bursts %+v", an.Bursts)
	}
	var sec api.Page[map[string]any]
	if err := adm.Do(bg(), http.MethodGet, "/audit/security-events?action=intelligence.anomaly", nil, &sec); err != nil || len(sec.Items) != 1 {
		t.Errorf("security events for the burst: %v %v", sec.Items, err)
	}
	// a host just started has no history to forecast from
	err := adm.Do(bg(), http.MethodGet, "/intelligence/predictions?series=cpu&horizon=24h", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "not_enough_data") && !strings.Contains(err.Error(), "too little history") {
		t.Errorf("predictions without history: %v", err)
	}
	if err := adm.Do(bg(), http.MethodGet, "/intelligence/predictions?horizon=soon", nil, nil); err == nil {
		t.Errorf("a bad horizon must be refused")
	}
}

// manualWorkflows are two workflows operators run by hand, one after the
// other: the repeated sequence the intelligence engine should learn.
const manualWorkflows = `
workflow "prepare" {
  step "go" {
    action = "heady.noop"
    input {
      what = "prepare"
    }
  }
}
workflow "publish" {
  step "go" {
    action = "heady.noop"
    input {
      what = "publish"
    }
  }
}
`

// learnQuickly lets the engine suggest from one day of history.
var learnQuickly = []string{"--var", "intelligence_min_days=1", "--var", "intelligence_min_sessions=3", "--var", "intelligence_interval=1h"}

// seedRepeatedSequence has three operators each run prepare then publish.
func seedRepeatedSequence(t *testing.T, h *hostProc) {
	t.Helper()
	for i := 0; i < 3; i++ {
		var tok api.TokenCreated
		if err := h.admin().Do(bg(), http.MethodPost, "/tokens", map[string]any{"name": fmt.Sprintf("operator%d", i), "role": "operator"}, &tok); err != nil {
			t.Fatal(err)
		}
		op := h.client(tok.Token)
		for _, wf := range []string{"prepare", "publish"} {
			var acc api.ExecutionAccepted
			if err := op.Do(bg(), http.MethodPost, "/workflows/"+wf+"/execute", map[string]any{}, &acc); err != nil {
				t.Fatal(err)
			}
		}
	}
}
