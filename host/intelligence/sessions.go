package intelligence

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/heady-dev/heady/host/audit"
)

// Session is one actor's burst of activity: actions with no idle gap longer
// than the session gap between them.
type Session struct {
	Actor string    `json:"actor"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Items are the actions in order, as ItemOf renders them.
	Items []string `json:"items"`
}

// ItemOf names an audit entry as a mining item: the action, then the
// resource ("workflow.execute workflow/deploy") or, for accepted events,
// the event type ("event.accept user.registered").
func ItemOf(e *audit.Entry) string {
	if e.Action == "event.accept" {
		if t, ok := e.Details["type"].(string); ok && t != "" {
			return "event.accept " + t
		}
	}
	if e.ResourceType != "" && e.ResourceID != "" {
		return e.Action + " " + e.ResourceType + "/" + e.ResourceID
	}
	return e.Action
}

// Sessionize splits each actor's successful user actions into sessions at
// idle gaps longer than gap. Entries need not be sorted.
func Sessionize(entries []audit.Entry, gap time.Duration) []Session {
	byActor := map[string][]*audit.Entry{}
	for i := range entries {
		e := &entries[i]
		if !userAction(e) || e.Outcome != audit.OutcomeSuccess && e.Outcome != "" {
			continue
		}
		byActor[e.Actor] = append(byActor[e.Actor], e)
	}
	var out []Session
	for _, actor := range sortedActionKeys(byActor) {
		es := byActor[actor]
		sort.SliceStable(es, func(i, j int) bool { return es[i].Time.Before(es[j].Time) })
		var cur *Session
		for _, e := range es {
			if cur == nil || e.Time.Sub(cur.End) > gap {
				if cur != nil {
					out = append(out, *cur)
				}
				cur = &Session{Actor: actor, Start: e.Time}
			}
			cur.End = e.Time
			cur.Items = append(cur.Items, ItemOf(e))
		}
		if cur != nil {
			out = append(out, *cur)
		}
	}
	return out
}

// MiningOptions tune sequence mining over sessions.
type MiningOptions struct {
	// MinSessions is the minimum number of distinct sessions (default 3).
	MinSessions int
	// MinDays is the minimum number of distinct days (UTC) the pattern
	// occurs on (default 2).
	MinDays int
	// MinLen and MaxLen bound the pattern length in actions (default 2, 6).
	MinLen, MaxLen int
}

func (o *MiningOptions) defaults() {
	if o.MinSessions <= 0 {
		o.MinSessions = 3
	}
	if o.MinDays <= 0 {
		o.MinDays = 2
	}
	if o.MinLen <= 0 {
		o.MinLen = 2
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 6
	}
}

// ActionPattern is a repeated action sequence mined from sessions.
type ActionPattern struct {
	Actions  []string `json:"actions"`
	Sessions int      `json:"sessions"`
	Days     int      `json:"days"`
	Actors   []string `json:"actors"`
	Closed   bool     `json:"closed"`
	Maximal  bool     `json:"maximal"`
}

// MinePatterns mines the closed frequent action sequences of at least
// MinLen actions that occur in MinSessions distinct sessions on MinDays
// distinct days, most frequent first. Support counts sessions, not
// occurrences: a session that repeats a sequence counts once.
func MinePatterns(sessions []Session, o MiningOptions) []ActionPattern {
	o.defaults()
	db := make([]Sequence, len(sessions))
	for i, s := range sessions {
		seq := make(Sequence, len(s.Items))
		for j, it := range s.Items {
			seq[j] = Itemset{it}
		}
		db[i] = seq
	}
	all := PrefixSpan(db, o.MinSessions, o.MaxLen)
	// the day constraint is not anti-monotone in sessions; apply it after
	var freq []SeqPattern
	info := map[string]ActionPattern{}
	for _, p := range all {
		days, actors := map[string]bool{}, map[string]bool{}
		for i, s := range db {
			if Contains(s, p.Seq) {
				days[sessions[i].Start.UTC().Format("2006-01-02")] = true
				actors[sessions[i].Actor] = true
			}
		}
		if len(days) < o.MinDays {
			continue
		}
		freq = append(freq, p)
		var as []string
		for _, is := range p.Seq {
			as = append(as, is[0])
		}
		info[p.Seq.String()] = ActionPattern{Actions: as, Sessions: p.Support, Days: len(days), Actors: sortedActionKeys(actors)}
	}
	closed := map[string]bool{}
	for _, p := range ClosedPatterns(freq) {
		closed[p.Seq.String()] = true
	}
	maximal := map[string]bool{}
	for _, p := range MaximalPatterns(freq) {
		maximal[p.Seq.String()] = true
	}
	var out []ActionPattern
	for _, p := range freq {
		k := p.Seq.String()
		if !closed[k] || p.Seq.Len() < o.MinLen {
			continue
		}
		ap := info[k]
		ap.Closed, ap.Maximal = true, maximal[k]
		out = append(out, ap)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Sessions != out[j].Sessions {
			return out[i].Sessions > out[j].Sessions
		}
		return len(out[i].Actions) > len(out[j].Actions)
	})
	return out
}

// automatable maps an item to a workflow step, or ok false.
func automatable(item string) (action string, input map[string]string, label string, ok bool) {
	act, rest, _ := strings.Cut(item, " ")
	switch act {
	case "workflow.execute":
		if wf, ok := strings.CutPrefix(rest, "workflow/"); ok && wf != "" {
			return "heady.run_workflow", map[string]string{"workflow": wf}, "run_" + wf, true
		}
	case "event.accept":
		if rest != "" {
			return "heady.emit_event", map[string]string{"type": rest}, "emit_" + rest, true
		}
	}
	return "", nil, "", false
}

var nameSanitizer = strings.NewReplacer(".", "_", "-", "_", "/", "_", ":", "_", " ", "_")

func hclName(s string) string {
	s = nameSanitizer.Replace(strings.ToLower(s))
	var b strings.Builder
	for _, r := range s {
		if r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	out := b.String()
	if out == "" || out[0] >= '0' && out[0] <= '9' {
		out = "x" + out
	}
	return out
}

// WorkflowForPattern generates a workflow that performs a pattern's
// automatable actions in order, or ok false when fewer than two map to
// steps. The workflow has no trigger: it runs on demand.
func WorkflowForPattern(name string, p ActionPattern) (hcl string, ok bool) {
	type step struct {
		name, action string
		input        map[string]string
	}
	var steps []step
	used := map[string]int{}
	for _, it := range p.Actions {
		act, in, label, ok := automatable(it)
		if !ok {
			continue
		}
		n := hclName(label)
		used[n]++
		if used[n] > 1 {
			n = fmt.Sprintf("%s_%d", n, used[n])
		}
		steps = append(steps, step{n, act, in})
	}
	if len(steps) < 2 {
		return "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Suggested by Heady's intelligence engine: %s ran these actions in this\n", strings.Join(p.Actors, ", "))
	fmt.Fprintf(&b, "# order in %d sessions on %d days. Run it with\n", p.Sessions, p.Days)
	fmt.Fprintf(&b, "#   POST /api/v1/automation/workflows/%s/execute\n", name)
	fmt.Fprintf(&b, "workflow %q {\n", name)
	fmt.Fprintf(&b, "  description = %q\n", "Repeated sequence: "+strings.Join(p.Actions, " → "))
	b.WriteString("\n  concurrency {\n    limit    = 1\n    overflow = \"queue\"\n  }\n")
	for i, s := range steps {
		fmt.Fprintf(&b, "\n  step %q {\n", s.name)
		fmt.Fprintf(&b, "    action = %q\n", s.action)
		if i > 0 {
			fmt.Fprintf(&b, "    depends_on = [%q]\n", steps[i-1].name)
		}
		b.WriteString("    input {\n")
		for _, k := range sortedActionKeys(s.input) {
			fmt.Fprintf(&b, "      %s = %q\n", k, s.input[k])
		}
		b.WriteString("    }\n  }\n")
	}
	b.WriteString("}\n")
	return b.String(), true
}
