package scaling

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/heady-dev/heady/host/config"
)

// Actions a decision can take.
const (
	ActionScaleUp   = "scale_up"
	ActionScaleDown = "scale_down"
	ActionHold      = "hold"
	ActionError     = "error"
)

// State is what a policy remembers between evaluations. It is persisted
// with every decision.
type State struct {
	// Desired is the count Heady last asked the backend for (0: never).
	Desired int `json:"desired"`
	// LastAction is when Heady last changed the count (either direction).
	LastAction time.Time `json:"last_action,omitzero"`
	// Recs are the recommendations of the stabilization window that can
	// still be its highest, oldest first (strictly decreasing).
	Recs []Rec `json:"recs,omitempty"`
}

// Rec is one recommendation: the count the metrics asked for at a time.
type Rec struct {
	Time time.Time `json:"t"`
	N    int       `json:"n"`
}

// Input is what one decision is made from.
type Input struct {
	Now time.Time
	// Current is the backend's own count (authoritative).
	Current int
	// Values holds the metrics that have a value; Missing names the others.
	Values  map[string]float64
	Missing []string
	State   State
}

// Outcome is a decision before it is carried out.
type Outcome struct {
	Action string
	To     int
	// Recommendation is what the metrics asked for, after min/max.
	Recommendation int
	Reason         string
	// Bypass is true for corrections (below min, above max, restoring
	// lost instances) that ignore cooldowns.
	Bypass bool
	State  State
}

// cooldowns returns the effective up and down cooldowns of a policy.
func cooldowns(p *config.Scaling) (up, down time.Duration) {
	up, down = p.CooldownUp, p.CooldownDown
	if up == 0 {
		up = p.Cooldown
	}
	if down == 0 {
		down = p.Cooldown
	}
	return up, down
}

// Decide applies a policy to an input. It is a pure function: the table
// tests of the decision math drive it directly.
//
// Threshold mode scales up by step when any metric is above its scale_up
// threshold and down by step only when every metric is below its
// scale_down threshold. Target mode asks for
// ceil(current × value / target), the largest over the metrics. The result
// is kept within min and max. Scaling up waits for the up cooldown since
// the last action; scaling down waits for the down cooldown and goes only
// as low as the highest recommendation within the stabilization window, so
// a noisy metric does not make the count oscillate. A count below min or
// above max, or below what Heady last set (instances lost outside Heady),
// is corrected at once.
func Decide(p *config.Scaling, in Input) Outcome {
	st := in.State
	cur := in.Current
	out := Outcome{To: cur, Recommendation: cur, Action: ActionHold}
	clamp := func(n int) int { return max(p.Min, min(p.Max, n)) }

	if p.ActiveHours != nil && !inActiveHours(p.ActiveHours, in.Now) {
		out.Reason = fmt.Sprintf("hold: outside active hours (%s-%s %s)", p.ActiveHours.From, p.ActiveHours.To, p.ActiveHours.Timezone)
		out.State = st
		return out
	}

	// min and max are hard bounds, whatever the metrics say.
	switch {
	case cur < p.Min:
		// Back to what Heady last set when that is more (a backend that
		// lost everything, such as a process pool after a restart).
		out.Action, out.To, out.Bypass, out.State = ActionScaleUp, max(p.Min, min(st.Desired, p.Max)), true, st
		out.Reason = fmt.Sprintf("below min: %d < %d", cur, p.Min)
		if out.To > p.Min {
			out.Reason += fmt.Sprintf(", restoring %d", out.To)
		}
		return out
	case cur > p.Max:
		out.Action, out.To, out.Bypass, out.State = ActionScaleDown, p.Max, true, st
		out.Reason = fmt.Sprintf("above max: %d > %d", cur, p.Max)
		return out
	}

	rec := cur
	var reason string
	missing := append([]string(nil), in.Missing...)
	sort.Strings(missing)
	switch {
	case len(missing) > 0 && p.MissingMetric == "fail":
		out.Action, out.Reason, out.State = ActionError, "fail: metric "+strings.Join(missing, ", ")+" missing", st
		return out
	case len(missing) > 0 && p.MissingMetric == "scale_up":
		rec = cur + p.Step
		reason = "metric " + strings.Join(missing, ", ") + " missing: scale up"
	case len(missing) > 0:
		out.Reason, out.State = "hold: metric "+strings.Join(missing, ", ")+" missing", st
		return out
	case p.Mode == "target":
		rec, reason = targetRec(p, cur, in.Values)
	default:
		rec, reason = thresholdRec(p, cur, in.Values)
	}
	rec = clamp(rec)
	out.Recommendation = rec

	// Remember the recommendation for the stabilization window. Only the
	// highest one matters, so a recommendation followed by one at least as
	// high is dropped: the list stays short and strictly decreasing.
	window := p.StabilizationWindow
	recs := make([]Rec, 0, len(st.Recs)+1)
	for _, r := range st.Recs {
		if window > 0 && in.Now.Sub(r.Time) < window {
			recs = append(recs, r)
		}
	}
	for len(recs) > 0 && recs[len(recs)-1].N <= rec {
		recs = recs[:len(recs)-1]
	}
	recs = append(recs, Rec{Time: in.Now, N: rec})
	st.Recs = recs
	out.State = st

	up, down := cooldowns(p)
	switch {
	case rec > cur:
		if until := st.LastAction.Add(up); !st.LastAction.IsZero() && in.Now.Before(until) {
			out.Reason = fmt.Sprintf("hold: cooldown until %s (wants %d: %s)", until.UTC().Format(time.RFC3339), rec, reason)
			return out
		}
		out.Action, out.To, out.Reason = ActionScaleUp, rec, reason
	case rec < cur:
		stable := rec
		for _, r := range recs {
			stable = max(stable, r.N)
		}
		if stable >= cur {
			out.Reason = fmt.Sprintf("hold: stabilizing, highest recommendation in the last %s is %d (wants %d: %s)", window, stable, rec, reason)
			return out
		}
		if until := st.LastAction.Add(down); !st.LastAction.IsZero() && in.Now.Before(until) {
			out.Reason = fmt.Sprintf("hold: cooldown until %s (wants %d: %s)", until.UTC().Format(time.RFC3339), stable, reason)
			return out
		}
		out.Action, out.To, out.Reason = ActionScaleDown, stable, reason
	case st.Desired > cur:
		out.Action, out.To, out.Bypass = ActionScaleUp, clamp(st.Desired), true
		out.Reason = fmt.Sprintf("restore: backend reports %d, Heady last set %d (instances lost outside Heady)", cur, st.Desired)
	default:
		out.Reason = "hold: " + reason
	}
	return out
}

// thresholdRec is the threshold-mode recommendation: up by step when any
// metric is above scale_up, down by step when all are below scale_down.
func thresholdRec(p *config.Scaling, cur int, vals map[string]float64) (int, string) {
	var above, below, within []string
	for _, m := range p.Metrics {
		v := vals[m.Name]
		switch {
		case v > m.ScaleUp:
			above = append(above, fmt.Sprintf("%s %s > %s", m.Name, num(v), num(m.ScaleUp)))
		case v < m.ScaleDown:
			below = append(below, fmt.Sprintf("%s %s < %s", m.Name, num(v), num(m.ScaleDown)))
		default:
			within = append(within, fmt.Sprintf("%s %s", m.Name, num(v)))
		}
	}
	switch {
	case len(above) > 0:
		return cur + p.Step, strings.Join(above, ", ")
	case len(within) == 0:
		return cur - p.Step, strings.Join(below, ", ")
	default:
		return cur, strings.Join(within, ", ") + " within thresholds"
	}
}

// targetRec is the target-tracking recommendation: the largest
// ceil(current × value / target) over the metrics (current counts as at
// least 1).
func targetRec(p *config.Scaling, cur int, vals map[string]float64) (int, string) {
	base := max(cur, 1)
	best, why := math.MinInt, ""
	for _, m := range p.Metrics {
		if m.Target <= 0 {
			continue
		}
		v := vals[m.Name]
		n := int(math.Ceil(float64(base)*v/m.Target - 1e-9))
		if n > best {
			best = n
			why = fmt.Sprintf("%s %s vs target %s: ceil(%d × %s / %s) = %d", m.Name, num(v), num(m.Target), base, num(v), num(m.Target), n)
		}
	}
	if best == math.MinInt {
		return cur, "no target metric"
	}
	return best, why
}

func num(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

var weekdayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// inActiveHours reports whether now falls in the window. A window whose
// end is before its start runs over midnight; the day is that of the start.
func inActiveHours(ah *config.ActiveHours, now time.Time) bool {
	loc, err := time.LoadLocation(ah.Timezone)
	if err != nil || ah.Timezone == "" {
		loc = time.UTC
	}
	t := now.In(loc)
	mins := t.Hour()*60 + t.Minute()
	from, to := hhmm(ah.From, 0), hhmm(ah.To, 24*60)
	day := t.Weekday()
	in := false
	switch {
	case from <= to:
		in = mins >= from && mins < to
	case mins >= from:
		in = true
	case mins < to:
		in, day = true, (day+6)%7
	}
	if !in {
		return false
	}
	if len(ah.Days) == 0 {
		return true
	}
	for _, d := range ah.Days {
		if strings.EqualFold(d, weekdayNames[day]) {
			return true
		}
	}
	return false
}

func hhmm(s string, def int) int {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil {
		return def
	}
	return h*60 + m
}
