package scaling

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
)

// TestPredictiveScaling checks that a forecast peak may add capacity ahead
// of load, and that a forecast never removes it.
func TestPredictiveScaling(t *testing.T) {
	cases := []struct {
		name       string
		predictive bool
		now        float64 // current requests per minute
		forecast   float64 // forecast peak (0: cannot forecast)
		wantAction string
		wantReason string
	}{
		{"forecast peak above the threshold scales up early", true, 300, 900, ActionScaleUp, "predictive: requests_per_min forecast 900.0 > 600"},
		{"forecast peak below the threshold holds", true, 300, 500, ActionHold, ""},
		{"no forecast holds", true, 300, 0, ActionHold, ""},
		{"policy without predictive ignores the forecast", false, 300, 900, ActionHold, ""},
		{"low load still scales down when the forecast is low", true, 10, 20, ActionScaleDown, "requests_per_min"},
		{"a low forecast never blocks a scale-up on real load", true, 900, 10, ActionScaleUp, "requests_per_min 900"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := short(func(p *config.Scaling) {
				p.Predictive = tc.predictive
				p.Min, p.Max = 1, 5
				p.StabilizationWindow = 0
			})
			f := newFixture(t, p)
			f.eng.opts.Forecast = func(_ context.Context, series string, ahead time.Duration) (float64, bool, error) {
				if series != "service.web.requests_per_min" || ahead != p.EvaluationInterval {
					t.Errorf("forecast asked for %s over %s", series, ahead)
				}
				return tc.forecast, tc.forecast > 0, nil
			}
			f.be.set(2)
			f.push(t, "service.web.requests_per_min", tc.now)
			d := f.eval(t, "web")
			if d.Action != tc.wantAction || !strings.Contains(d.Reason, tc.wantReason) {
				t.Fatalf("decision %s (%s), want %s containing %q", d.Action, d.Reason, tc.wantAction, tc.wantReason)
			}
		})
	}
}
