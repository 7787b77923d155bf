package intelligence

import (
	"context"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/store"
)

// seasonal is a daily-seasonal hourly series with trend and noise.
func seasonal(n int, noise float64, seed int64) []float64 {
	rng := rand.New(rand.NewSource(seed))
	y := make([]float64, n)
	for i := range y {
		y[i] = 100 + 0.05*float64(i) + 30*math.Sin(2*math.Pi*float64(i)/24) + noise*rng.NormFloat64()
	}
	return y
}

func TestDetectPeriod(t *testing.T) {
	cases := []struct {
		name string
		y    []float64
		want int
	}{
		{"daily season", seasonal(24*14, 3, 1), 24},
		{"white noise", func() []float64 {
			rng := rand.New(rand.NewSource(2))
			y := make([]float64, 24*14)
			for i := range y {
				y[i] = rng.NormFloat64()
			}
			return y
		}(), 0},
		{"too short for the season", seasonal(30, 3, 1), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := DetectPeriod(c.y, 24, 168); got != c.want {
				t.Errorf("DetectPeriod = %d, want %d", got, c.want)
			}
		})
	}
}

func TestHoltWintersBeatsSeasonalNaiveAndCovers(t *testing.T) {
	y := seasonal(24*21, 4, 3)
	train, test := y[:24*14], y[24*14:]
	for _, kind := range []string{"auto", "additive"} {
		t.Run(kind, func(t *testing.T) {
			var m *HWModel
			var err error
			if kind == "auto" {
				m, err = FitHoltWintersAuto(train, 24, 24, 168)
			} else {
				m, err = FitHoltWintersH(train, 24, 24)
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind == SeasonNone || m.Period != 24 {
				t.Fatalf("model %+v: want a daily season", m)
			}
			fc := m.Forecast(len(test), 1.96)
			var hwErr, snErr float64
			inside := 0
			for i, p := range fc {
				hwErr += math.Abs(test[i] - p.Value)
				snErr += math.Abs(test[i] - train[len(train)-24+i%24])
				if test[i] >= p.Lower && test[i] <= p.Upper {
					inside++
				}
				if p.Upper < p.Lower {
					t.Fatalf("interval upside down at %d", i)
				}
			}
			if hwErr >= snErr {
				t.Errorf("Holt-Winters MAE %.2f not below seasonal naive %.2f", hwErr/float64(len(test)), snErr/float64(len(test)))
			}
			cover := float64(inside) / float64(len(test))
			if cover < 0.8 {
				t.Errorf("95%% intervals cover %.0f%% of a week ahead", 100*cover)
			}
			if fc[len(fc)-1].Upper-fc[len(fc)-1].Lower < fc[0].Upper-fc[0].Lower {
				t.Errorf("intervals must not narrow with the horizon")
			}
		})
	}
}

func TestMultiplicativeChosenForProportionalSeason(t *testing.T) {
	// the seasonal swing grows with the level: multiplicative fits better
	y := make([]float64, 24*14)
	rng := rand.New(rand.NewSource(4))
	for i := range y {
		level := 50 + 2*float64(i)
		y[i] = level * (1 + 0.4*math.Sin(2*math.Pi*float64(i)/24)) * (1 + 0.01*rng.NormFloat64())
	}
	m, err := FitHoltWinters(y, 24)
	if err != nil {
		t.Fatal(err)
	}
	// multiplicative, or additive on the log scale (the same structure)
	if m.Kind != SeasonMultiplicative && !(m.Kind == SeasonAdditive && m.Log) {
		t.Errorf("kind %s (log %v), want a multiplicative season", m.Kind, m.Log)
	}
	fc := m.Forecast(24, 1.96)
	for i, p := range fc {
		if !(p.Lower <= p.Value && p.Value <= p.Upper) {
			t.Fatalf("point %d outside its interval: %+v", i, p)
		}
	}
}

func TestForecastPointsFillsGapsAndTimes(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	y := seasonal(24*10, 2, 5)
	var pts []Point
	for i, v := range y {
		if i%17 == 5 {
			continue // a missing hour
		}
		pts = append(pts, Point{Time: start.Add(time.Duration(i) * time.Hour), Value: v})
	}
	fc, err := ForecastPoints("cpu", pts, 6*time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.Points) != 6 || len(fc.Times) != 6 {
		t.Fatalf("got %d points %d times", len(fc.Points), len(fc.Times))
	}
	if !fc.Times[0].Equal(pts[len(pts)-1].Time.Add(time.Hour)) {
		t.Errorf("first time %s", fc.Times[0])
	}
	if _, err := ForecastPoints("cpu", pts[:2], time.Hour, time.Hour); err == nil {
		t.Errorf("two points must be too short")
	}
}

func TestEvaluateForecastBaselines(t *testing.T) {
	y := seasonal(24*12, 2, 6)
	ev := EvaluateForecast("synthetic", y, []int{1, 24}, 12)
	for _, h := range []int{1, 24} {
		if ev.HW[h].N == 0 || ev.Seasonal[h].N != ev.HW[h].N {
			t.Fatalf("h=%d: %+v", h, ev)
		}
	}
	if ev.HW[24].MASE >= ev.Seasonal[24].MASE {
		t.Errorf("on a clean seasonal series HW (%.3f) must beat seasonal naive (%.3f)", ev.HW[24].MASE, ev.Seasonal[24].MASE)
	}
	// at 24 hours the seasonal naive forecast is the value one day before
	if math.Abs(ev.Seasonal[24].MAE-ev.Naive[24].MAE) > 1e-9 {
		t.Errorf("at h = period seasonal naive equals naive: %v vs %v", ev.Seasonal[24].MAE, ev.Naive[24].MAE)
	}
}

func TestPeakAheadFindsTheDailyPeak(t *testing.T) {
	ms := NewMemorySeries(30 * 24 * time.Hour)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	y := seasonal(24*10, 1, 7)
	for i, v := range y {
		ms.Add("cpu", start.Add(time.Duration(i)*time.Hour), v)
	}
	now := start.Add(time.Duration(len(y)) * time.Hour)
	st := openStore(t)
	e := New(Options{Store: st, Metrics: ms, Now: func() time.Time { return now }})
	p, err := e.PeakAhead(context.Background(), "cpu", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// the sine peaks at hour 6 of each day
	if h := p.Time.Hour(); h < 5 || h > 7 {
		t.Errorf("peak at %s, want about 06:00", p.Time)
	}
	if p.Upper < p.Value {
		t.Errorf("upper bound %v below the value %v", p.Upper, p.Value)
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestForecastAccuracyIsTracked(t *testing.T) {
	ms := NewMemorySeries(60 * 24 * time.Hour)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	y := seasonal(24*12, 1, 8)
	for i, v := range y[:24*10] {
		ms.Add("cpu", start.Add(time.Duration(i)*time.Hour), v)
	}
	now := start.Add(24 * 10 * time.Hour)
	e := New(Options{Store: openStore(t), Metrics: ms, MetricSeries: []string{"cpu"}, Now: func() time.Time { return now }})
	ctx := context.Background()
	if _, err := e.Analyze(ctx); err != nil { // records a 24h forecast
		t.Fatal(err)
	}
	// what then happened: a day of samples
	for i := 24 * 10; i < 24*11; i++ {
		ms.Add("cpu", start.Add(time.Duration(i)*time.Hour), y[i])
	}
	now = now.Add(24 * time.Hour)
	r, err := e.Analyze(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Accuracy) != 1 || r.Accuracy[0].Points < 20 {
		t.Fatalf("accuracy %+v", r.Accuracy)
	}
	a := r.Accuracy[0]
	if a.SMAPE > 10 || a.Covered < 0.7 {
		t.Errorf("a clean seasonal series should be forecast well: %+v", a)
	}
}

// TestForecastOnNABCloudMetrics keeps Holt-Winters ahead of the seasonal
// naive forecast at 24 hours on the NAB cloud metrics (when the data is
// beside the repository); `heady intel forecast` prints the full table.
func TestForecastOnNABCloudMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the NAB corpus")
	}
	series, err := LoadNAB(testNABDir(t))
	if err != nil {
		t.Skip(err)
	}
	var hw []float64
	for _, s := range series {
		if !strings.HasPrefix(s.Name, "realAWSCloudwatch/") {
			continue
		}
		ev := EvaluateForecast(s.Name, Hourly(s.Times, s.Values), []int{24}, 12)
		if ev.HW[24].N == 0 {
			continue
		}
		hw = append(hw, ev.HW[24].MAE/ev.Seasonal[24].MAE)
	}
	if len(hw) < 5 {
		t.Fatalf("only %d series evaluated", len(hw))
	}
	if m := Median(hw); m >= 1 {
		t.Errorf("median MAE relative to seasonal naive at 24h is %.3f, want below 1", m)
	} else {
		t.Logf("median MAE relative to seasonal naive at 24h: %.3f over %d series", m, len(hw))
	}
}
