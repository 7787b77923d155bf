package intelligence

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/workflow"
)

// Insight is one finding, with the evidence it rests on.
type Insight struct {
	// Kind: power_user, focused_activity, peak_hours, failing_action,
	// failure_burst, action_sequence, metric_anomaly.
	Kind     string         `json:"kind"`
	Title    string         `json:"title"`
	Subject  string         `json:"subject,omitempty"`
	Score    float64        `json:"score"`
	Evidence map[string]any `json:"evidence,omitempty"`
}

// readOnly reports whether an audit action only reads.
func readOnly(action string) bool {
	for _, s := range []string{".list", ".read", ".get", ".describe", ".export", ".verify", ".status", ".health",
		".history", ".services", ".query", ".scrape", ".series", ".schema", ".nodes", ".topology", ".metrics",
		".whoami", ".open", ".heartbeat", ".push"} {
		if strings.HasSuffix(action, s) {
			return true
		}
	}
	return strings.HasPrefix(action, "intelligence.") || action == "api.request"
}

// userAction reports whether an entry is something an authenticated person
// or script did that changes something (reads and machine traffic such as
// heartbeats and metric pushes are left out).
func userAction(e *audit.Entry) bool {
	if e.ActorKind == audit.ActorSystem || e.ActorKind == audit.ActorAnonymous || e.Actor == "" {
		return false
	}
	return !readOnly(e.Action)
}

// BehaviourInsights derives power users, focused activities, peak hours and
// actions that usually fail from audit entries.
func BehaviourInsights(entries []audit.Entry) []Insight {
	var out []Insight
	perActor := map[string]int{}
	perActorRes := map[string]map[string]int{}
	hours := make([]int, 24)
	type okFail struct{ ok, fail int }
	perAction := map[string]*okFail{}
	total := 0
	for i := range entries {
		e := &entries[i]
		if e.ActorKind != audit.ActorSystem {
			c := perAction[e.Action]
			if c == nil {
				c = &okFail{}
				perAction[e.Action] = c
			}
			if e.Outcome == audit.OutcomeSuccess || e.Outcome == "" {
				c.ok++
			} else {
				c.fail++
			}
		}
		if !userAction(e) {
			continue
		}
		total++
		perActor[e.Actor]++
		key := e.Action
		if e.ResourceType != "" {
			key = e.ResourceType
			if e.ResourceID != "" {
				key += "/" + e.ResourceID
			}
		}
		if perActorRes[e.Actor] == nil {
			perActorRes[e.Actor] = map[string]int{}
		}
		perActorRes[e.Actor][key]++
		hours[e.Time.UTC().Hour()]++
	}
	// power users: at least 10 actions and twice the mean of the others
	for _, a := range sortedKeys(perActor) {
		n := perActor[a]
		others := 0.0
		if len(perActor) > 1 {
			others = float64(total-n) / float64(len(perActor)-1)
		}
		if n >= 10 && float64(n) >= 2*others {
			out = append(out, Insight{Kind: "power_user", Subject: a, Score: float64(n) / float64(total),
				Title:    fmt.Sprintf("%s is a power user: %d of %d actions (%.0f%%)", a, n, total, 100*float64(n)/float64(total)),
				Evidence: map[string]any{"actions": n, "total": total, "mean_of_others": others}})
		}
	}
	// focused activities: what each actor mostly touches
	for _, a := range sortedKeys(perActor) {
		res := perActorRes[a]
		top, topN := "", 0
		for _, k := range sortedKeys(res) {
			if res[k] > topN {
				top, topN = k, res[k]
			}
		}
		share := float64(topN) / float64(perActor[a])
		if perActor[a] >= 5 && share >= 0.5 {
			out = append(out, Insight{Kind: "focused_activity", Subject: a, Score: share,
				Title:    fmt.Sprintf("%s mostly works on %s (%.0f%% of their actions)", a, top, 100*share),
				Evidence: map[string]any{"resource": top, "count": topN, "actions": perActor[a]}})
		}
	}
	// peak hours: hours with at least 1.5x the mean hourly activity
	hmean := float64(total) / 24
	type hc struct{ h, n int }
	var peaks []hc
	for h, n := range hours {
		if float64(n) >= 1.5*hmean && n >= 3 {
			peaks = append(peaks, hc{h, n})
		}
	}
	sort.Slice(peaks, func(i, j int) bool { return peaks[i].n > peaks[j].n })
	if len(peaks) > 3 {
		peaks = peaks[:3]
	}
	if len(peaks) > 0 {
		var hs []int
		var names []string
		for _, p := range peaks {
			hs = append(hs, p.h)
			names = append(names, fmt.Sprintf("%02d:00", p.h))
		}
		out = append(out, Insight{Kind: "peak_hours", Score: float64(peaks[0].n) / hmean,
			Title:    "Peak activity hours (UTC): " + strings.Join(names, ", "),
			Evidence: map[string]any{"hours": hs, "by_hour": hours}})
	}
	// actions that usually fail
	for _, a := range sortedActionKeys(perAction) {
		c := perAction[a]
		n := c.ok + c.fail
		if n >= 5 && c.fail*2 >= n {
			out = append(out, Insight{Kind: "failing_action", Subject: a, Score: float64(c.fail) / float64(n),
				Title:    fmt.Sprintf("%s fails %.0f%% of the time (%d of %d)", a, 100*float64(c.fail)/float64(n), c.fail, n),
				Evidence: map[string]any{"failures": c.fail, "attempts": n}})
		}
	}
	return out
}

func sortedActionKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Burst is a run of repeated failures of one kind within a short window.
type Burst struct {
	Kind     string    `json:"kind"` // authentication, workflow, healing
	Subject  string    `json:"subject,omitempty"`
	Count    int       `json:"count"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Examples []string  `json:"examples,omitempty"`
}

// failureKind classifies a failed audit entry, or "".
func failureKind(e *audit.Entry) (kind, subject string) {
	if e.Outcome == audit.OutcomeSuccess || e.Outcome == "" {
		return "", ""
	}
	switch {
	case strings.HasPrefix(e.Action, "auth.") || e.Outcome == audit.OutcomeDenied:
		return "authentication", e.Source
	case strings.HasPrefix(e.Action, "heal"):
		return "healing", e.ResourceID
	case strings.HasPrefix(e.Action, "workflow.") || strings.HasPrefix(e.Action, "execution."):
		return "workflow", e.ResourceID
	}
	return "", ""
}

// FailureBursts finds at least minCount failures of the same kind and
// subject within window (a sliding window over time-ordered entries).
// Overlapping runs are merged into one burst.
func FailureBursts(entries []audit.Entry, window time.Duration, minCount int) []Burst {
	type key struct{ kind, subject string }
	groups := map[key][]*audit.Entry{}
	var order []key
	for i := range entries {
		k, s := failureKind(&entries[i])
		if k == "" {
			continue
		}
		kk := key{k, s}
		if _, ok := groups[kk]; !ok {
			order = append(order, kk)
		}
		groups[kk] = append(groups[kk], &entries[i])
	}
	var out []Burst
	for _, k := range order {
		es := groups[k]
		sort.SliceStable(es, func(i, j int) bool { return es[i].Time.Before(es[j].Time) })
		var cur *Burst
		lo := 0
		for hi := range es {
			for es[hi].Time.Sub(es[lo].Time) > window {
				lo++
			}
			if hi-lo+1 < minCount {
				continue
			}
			if cur != nil && !es[lo].Time.After(cur.To) {
				cur.To = es[hi].Time
				cur.Count++
				if len(cur.Examples) < 5 {
					cur.Examples = append(cur.Examples, es[hi].ID)
				}
				continue
			}
			if cur != nil {
				out = append(out, *cur)
			}
			cur = &Burst{Kind: k.kind, Subject: k.subject, Count: hi - lo + 1, From: es[lo].Time, To: es[hi].Time}
			for _, e := range es[lo : hi+1] {
				if len(cur.Examples) < 5 {
					cur.Examples = append(cur.Examples, e.ID)
				}
			}
		}
		if cur != nil {
			out = append(out, *cur)
		}
	}
	return out
}

// Finding is a reliability or performance problem found in workflow history.
type Finding struct {
	// Kind: transient_without_retry, step_timeout, always_failing,
	// slow_step.
	Kind     string         `json:"kind"`
	Workflow string         `json:"workflow"`
	Step     string         `json:"step,omitempty"`
	Title    string         `json:"title"`
	Impact   string         `json:"impact"`
	Evidence map[string]any `json:"evidence"`
}

// StepRetry tells whether a workflow step has a retry policy.
type StepRetry func(workflow, step string) (declared bool, known bool)

// ReliabilityFindings inspects executions (with their steps) for steps that
// fail with transient errors and have no retry, steps that time out,
// workflows that always fail, and the slowest steps by p95 duration.
func ReliabilityFindings(execs []*workflow.Execution, hasRetry StepRetry) []Finding {
	type stepStats struct {
		transient, timeouts, runs int
		durs                      []time.Duration
		examples                  []string
	}
	steps := map[string]*stepStats{}
	type wfStats struct {
		runs, failed int
		examples     []string
	}
	wfs := map[string]*wfStats{}
	for _, x := range execs {
		if x.Status != workflow.StatusSucceeded && x.Status != workflow.StatusFailed {
			continue
		}
		w := wfs[x.Workflow]
		if w == nil {
			w = &wfStats{}
			wfs[x.Workflow] = w
		}
		w.runs++
		if x.Status == workflow.StatusFailed {
			w.failed++
			if len(w.examples) < 3 {
				w.examples = append(w.examples, x.ID)
			}
		}
		for _, s := range x.Steps {
			k := x.Workflow + "\x00" + s.Name
			st := steps[k]
			if st == nil {
				st = &stepStats{}
				steps[k] = st
			}
			st.runs++
			if !s.StartedAt.IsZero() && !s.EndedAt.IsZero() {
				st.durs = append(st.durs, s.EndedAt.Sub(s.StartedAt))
			}
			if s.Error == nil || s.Status != workflow.StatusFailed {
				continue
			}
			switch {
			case s.Error.Code == "timeout":
				st.timeouts++
			case transientCodes[s.Error.Code]:
				st.transient++
			default:
				continue
			}
			if len(st.examples) < 3 {
				st.examples = append(st.examples, x.ID)
			}
		}
	}
	var out []Finding
	type p95 struct {
		wf, step string
		d        time.Duration
		n        int
	}
	var slow []p95
	for _, k := range sortedActionKeys(steps) {
		st := steps[k]
		wf, step, _ := strings.Cut(k, "\x00")
		declared, known := true, false
		if hasRetry != nil {
			declared, known = hasRetry(wf, step)
		}
		if st.transient > 0 && known && !declared {
			out = append(out, Finding{Kind: "transient_without_retry", Workflow: wf, Step: step, Impact: impactOf(st.transient, st.runs),
				Title:    fmt.Sprintf("Step %s of %s failed %d times with transient errors and has no retry", step, wf, st.transient),
				Evidence: map[string]any{"failures": st.transient, "runs": st.runs, "example_executions": st.examples}})
		}
		if st.timeouts > 0 {
			out = append(out, Finding{Kind: "step_timeout", Workflow: wf, Step: step, Impact: impactOf(st.timeouts, st.runs),
				Title:    fmt.Sprintf("Step %s of %s timed out %d times", step, wf, st.timeouts),
				Evidence: map[string]any{"timeouts": st.timeouts, "runs": st.runs, "example_executions": st.examples}})
		}
		if len(st.durs) >= 5 {
			slow = append(slow, p95{wf, step, percentile(st.durs, 0.95), len(st.durs)})
		}
	}
	for _, wf := range sortedActionKeys(wfs) {
		w := wfs[wf]
		if w.runs >= 3 && w.failed == w.runs {
			out = append(out, Finding{Kind: "always_failing", Workflow: wf, Impact: "high",
				Title:    fmt.Sprintf("Workflow %s failed in all of its last %d executions", wf, w.runs),
				Evidence: map[string]any{"runs": w.runs, "failed": w.failed, "example_executions": w.examples}})
		}
	}
	sort.Slice(slow, func(i, j int) bool { return slow[i].d > slow[j].d })
	for i, s := range slow {
		if i == 3 || s.d < time.Second {
			break
		}
		out = append(out, Finding{Kind: "slow_step", Workflow: s.wf, Step: s.step, Impact: "low",
			Title:    fmt.Sprintf("Step %s of %s is among the slowest: p95 %s", s.step, s.wf, s.d.Round(time.Millisecond)),
			Evidence: map[string]any{"p95_ms": s.d.Milliseconds(), "samples": s.n}})
	}
	return out
}

// transientCodes are error codes of failures that a retry usually cures.
var transientCodes = map[string]bool{"infrastructure": true, "transient": true, "unavailable": true,
	"connection_refused": true, "rate_limited": true, "temporary": true}

func impactOf(bad, runs int) string {
	switch r := float64(bad) / float64(max(runs, 1)); {
	case r >= 0.2 || bad >= 10:
		return "high"
	case r >= 0.05:
		return "medium"
	}
	return "low"
}

func percentile(ds []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}
