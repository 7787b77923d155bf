package scaling

import (
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
)

// guide is the guide's default policy: cpu 70/30, memory 75/40,
// requests_per_min 1000/100, cooldown 5m, window 5m, min 1, max 10.
func guide(mod ...func(*config.Scaling)) *config.Scaling {
	p := &config.Scaling{Name: "app", Mode: "threshold", Min: 1, Max: 10, Step: 1, Cooldown: 5 * time.Minute,
		StabilizationWindow: 5 * time.Minute, EvaluationInterval: 10 * time.Minute, MissingMetric: "hold",
		Metrics: []*config.ScalingMetric{
			{Name: "cpu", ScaleUp: 70, ScaleDown: 30},
			{Name: "memory", ScaleUp: 75, ScaleDown: 40},
			{Name: "requests_per_min", ScaleUp: 1000, ScaleDown: 100},
		}}
	for _, m := range mod {
		m(p)
	}
	return p
}

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) // a Monday

func vals(cpu, mem, rpm float64) map[string]float64 {
	return map[string]float64{"cpu": cpu, "memory": mem, "requests_per_min": rpm}
}

func TestDecide(t *testing.T) {
	target := func(p *config.Scaling) {
		p.Mode = "target"
		p.Metrics = []*config.ScalingMetric{{Name: "cpu", Target: 50}, {Name: "requests_per_min", Target: 500}}
	}
	tests := []struct {
		name       string
		p          *config.Scaling
		in         Input
		wantAction string
		wantTo     int
		wantReason string
	}{
		{"any metric above scales up", guide(), Input{Current: 2, Values: vals(82.1, 50, 500)},
			ActionScaleUp, 3, "cpu 82.1 > 70"},
		{"requests above scales up", guide(), Input{Current: 2, Values: vals(50, 50, 1500)},
			ActionScaleUp, 3, "requests_per_min 1500 > 1000"},
		{"at the threshold is not above", guide(), Input{Current: 2, Values: vals(70, 50, 500)},
			ActionHold, 2, "within thresholds"},
		{"step size", guide(func(p *config.Scaling) { p.Step = 3 }), Input{Current: 2, Values: vals(90, 50, 500)},
			ActionScaleUp, 5, "cpu 90 > 70"},
		{"max caps the step", guide(func(p *config.Scaling) { p.Step = 3; p.Max = 4 }), Input{Current: 2, Values: vals(90, 50, 500)},
			ActionScaleUp, 4, "cpu 90 > 70"},
		{"at max holds", guide(func(p *config.Scaling) { p.Max = 2 }), Input{Current: 2, Values: vals(90, 50, 500)},
			ActionHold, 2, "hold"},
		{"all below scales down", guide(), Input{Current: 3, Values: vals(10, 20, 50)},
			ActionScaleDown, 2, "cpu 10 < 30, memory 20 < 40, requests_per_min 50 < 100"},
		{"one not below holds", guide(), Input{Current: 3, Values: vals(10, 50, 50)},
			ActionHold, 3, "memory 50 within thresholds"},
		{"at min holds", guide(), Input{Current: 1, Values: vals(10, 20, 50)},
			ActionHold, 1, "hold"},
		{"below min is corrected at once", guide(func(p *config.Scaling) { p.Min = 2 }), Input{Current: 0, Values: vals(50, 50, 500),
			State: State{LastAction: t0.Add(-time.Second)}}, ActionScaleUp, 2, "below min: 0 < 2"},
		{"below min restores what was last set", guide(), Input{Current: 0, Values: vals(50, 50, 500), State: State{Desired: 4}},
			ActionScaleUp, 4, "below min: 0 < 1, restoring 4"},
		{"below min is corrected with a metric missing", guide(), Input{Current: 0, Values: map[string]float64{}, Missing: []string{"cpu", "memory", "requests_per_min"}},
			ActionScaleUp, 1, "below min: 0 < 1"},
		{"above max is corrected at once", guide(func(p *config.Scaling) { p.Max = 3 }), Input{Current: 5, Values: vals(50, 50, 500),
			State: State{LastAction: t0.Add(-time.Second)}}, ActionScaleDown, 3, "above max: 5 > 3"},
		{"up cooldown holds", guide(), Input{Current: 2, Values: vals(90, 50, 500), State: State{LastAction: t0.Add(-4 * time.Minute)}},
			ActionHold, 2, "hold: cooldown until 2026-11-30T12:01:00Z (wants 3: cpu 90 > 70)"},
		{"up cooldown over", guide(), Input{Current: 2, Values: vals(90, 50, 500), State: State{LastAction: t0.Add(-5 * time.Minute)}},
			ActionScaleUp, 3, "cpu 90 > 70"},
		{"separate up cooldown", guide(func(p *config.Scaling) { p.CooldownUp = time.Minute }), Input{Current: 2, Values: vals(90, 50, 500),
			State: State{LastAction: t0.Add(-2 * time.Minute)}}, ActionScaleUp, 3, "cpu 90 > 70"},
		{"down cooldown holds", guide(func(p *config.Scaling) {
			p.CooldownUp = time.Minute
			p.CooldownDown = 10 * time.Minute
			p.StabilizationWindow = 0
		}),
			Input{Current: 3, Values: vals(10, 20, 50), State: State{LastAction: t0.Add(-6 * time.Minute)}},
			ActionHold, 3, "hold: cooldown until 2026-11-30T12:04:00Z"},
		{"window holds scale-down", guide(), Input{Current: 3, Values: vals(10, 20, 50),
			State: State{Recs: []Rec{{t0.Add(-4 * time.Minute), 3}, {t0.Add(-2 * time.Minute), 2}}}},
			ActionHold, 3, "hold: stabilizing, highest recommendation in the last 5m0s is 3"},
		{"window scales down to its highest recommendation", guide(func(p *config.Scaling) { p.Step = 2 }), Input{Current: 5, Values: vals(10, 20, 50),
			State: State{Recs: []Rec{{t0.Add(-6 * time.Minute), 5}, {t0.Add(-4 * time.Minute), 4}, {t0.Add(-2 * time.Minute), 3}}}},
			ActionScaleDown, 4, "cpu 10 < 30"},
		{"target tracking", guide(target), Input{Current: 2, Values: map[string]float64{"cpu": 80, "requests_per_min": 600}},
			ActionScaleUp, 4, "cpu 80 vs target 50: ceil(2 × 80 / 50) = 4"},
		{"target tracking takes the largest", guide(target), Input{Current: 2, Values: map[string]float64{"cpu": 40, "requests_per_min": 1600}},
			ActionScaleUp, 7, "requests_per_min 1600 vs target 500"},
		{"target tracking exact", guide(target), Input{Current: 4, Values: map[string]float64{"cpu": 50, "requests_per_min": 100}},
			ActionHold, 4, "hold"},
		{"target tracking down", guide(target, func(p *config.Scaling) { p.StabilizationWindow = 0 }), Input{Current: 4, Values: map[string]float64{"cpu": 20, "requests_per_min": 100}},
			ActionScaleDown, 2, "ceil(4 × 20 / 50) = 2"},
		{"target tracking from zero", guide(target, func(p *config.Scaling) { p.Min = 0 }), Input{Current: 0, Values: map[string]float64{"cpu": 120, "requests_per_min": 0}},
			ActionScaleUp, 3, "ceil(1 × 120 / 50) = 3"},
		{"target tracking capped", guide(target, func(p *config.Scaling) { p.Max = 5 }), Input{Current: 4, Values: map[string]float64{"cpu": 100, "requests_per_min": 0}},
			ActionScaleUp, 5, "ceil(4 × 100 / 50) = 8"},
		{"missing holds", guide(), Input{Current: 2, Values: map[string]float64{"cpu": 90}, Missing: []string{"requests_per_min", "memory"}},
			ActionHold, 2, "hold: metric memory, requests_per_min missing"},
		{"missing scales up", guide(func(p *config.Scaling) { p.MissingMetric = "scale_up" }), Input{Current: 2, Values: map[string]float64{}, Missing: []string{"cpu"}},
			ActionScaleUp, 3, "metric cpu missing: scale up"},
		{"missing scale up respects cooldown", guide(func(p *config.Scaling) { p.MissingMetric = "scale_up" }), Input{Current: 2, Missing: []string{"cpu"},
			State: State{LastAction: t0.Add(-time.Minute)}}, ActionHold, 2, "hold: cooldown"},
		{"missing fails", guide(func(p *config.Scaling) { p.MissingMetric = "fail" }), Input{Current: 2, Missing: []string{"cpu"}},
			ActionError, 2, "fail: metric cpu missing"},
		{"restore lost instances", guide(), Input{Current: 2, Values: vals(50, 50, 500), State: State{Desired: 3, LastAction: t0.Add(-time.Second)}},
			ActionScaleUp, 3, "restore: backend reports 2, Heady last set 3"},
		{"more than set is adopted", guide(), Input{Current: 4, Values: vals(50, 50, 500), State: State{Desired: 3}},
			ActionHold, 4, "within thresholds"},
		{"outside active hours", guide(func(p *config.Scaling) {
			p.ActiveHours = &config.ActiveHours{From: "08:00", To: "11:00", Timezone: "UTC"}
		}),
			Input{Current: 2, Values: vals(90, 50, 500)}, ActionHold, 2, "hold: outside active hours (08:00-11:00 UTC)"},
		{"inside active hours", guide(func(p *config.Scaling) {
			p.ActiveHours = &config.ActiveHours{From: "08:00", To: "13:00", Timezone: "UTC", Days: []string{"mon"}}
		}),
			Input{Current: 2, Values: vals(90, 50, 500)}, ActionScaleUp, 3, "cpu 90 > 70"},
		{"wrong day", guide(func(p *config.Scaling) {
			p.ActiveHours = &config.ActiveHours{From: "08:00", To: "13:00", Timezone: "UTC", Days: []string{"tue"}}
		}),
			Input{Current: 2, Values: vals(90, 50, 500)}, ActionHold, 2, "outside active hours"},
		{"over midnight", guide(func(p *config.Scaling) {
			p.ActiveHours = &config.ActiveHours{From: "22:00", To: "13:00", Timezone: "UTC", Days: []string{"sun"}}
		}),
			Input{Current: 2, Values: vals(90, 50, 500)}, ActionScaleUp, 3, "cpu 90 > 70"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now = t0
			out := Decide(tt.p, tt.in)
			if out.Action != tt.wantAction || out.To != tt.wantTo || !strings.Contains(out.Reason, tt.wantReason) {
				t.Fatalf("Decide = %s to %d (%q), want %s to %d (%q)", out.Action, out.To, out.Reason, tt.wantAction, tt.wantTo, tt.wantReason)
			}
		})
	}
}

// TestDecideNoFlap drives a metric that oscillates around a threshold
// through repeated decisions and checks the count never reverses within
// the stabilization window.
func TestDecideNoFlap(t *testing.T) {
	tests := []struct {
		name   string
		series []float64 // cpu per evaluation (memory and requests stay low)
		start  int
		want   []int // counts after each evaluation
	}{
		{"around scale_down never scales down", []float64{28, 32, 28, 32, 28, 32, 28, 32}, 3, []int{3, 3, 3, 3, 3, 3, 3, 3}},
		{"across both thresholds only goes up", []float64{90, 10, 90, 10, 90, 10, 90, 10}, 2, []int{3, 3, 4, 4, 5, 5, 6, 6}},
		{"quiet for a whole window scales down", []float64{10, 10, 10, 10, 10, 10, 10, 10}, 3, []int{3, 3, 3, 3, 2, 2, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := guide(func(p *config.Scaling) { p.Cooldown = time.Minute })
			// The count was last changed just now at the start, by a scale-up
			// that recorded its recommendation.
			st := State{Desired: tt.start, LastAction: t0, Recs: []Rec{{t0, tt.start}}}
			cur := tt.start
			for i, cpu := range tt.series {
				now := t0.Add(time.Duration(i+1) * time.Minute)
				out := Decide(p, Input{Now: now, Current: cur, Values: vals(cpu, 10, 10), State: st})
				st = out.State
				if out.Action == ActionScaleUp || out.Action == ActionScaleDown {
					cur = out.To
					st.Desired, st.LastAction = cur, now
				}
				if cur != tt.want[i] {
					t.Fatalf("evaluation %d (cpu %v): count %d, want %d (%s)", i, cpu, cur, tt.want[i], out.Reason)
				}
			}
		})
	}
}
