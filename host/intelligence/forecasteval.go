package intelligence

import (
	"math"
	"sort"
	"strings"
	"time"
)

// ForecastSeries reports whether a NAB series carries traffic or
// utilisation: the cloud metrics (CPU, network, disk, requests), tweet
// volumes and road traffic.
func ForecastSeries(name string) bool {
	return strings.HasPrefix(name, "realAWSCloudwatch/") || strings.HasPrefix(name, "realTweets/") ||
		strings.HasPrefix(name, "realTraffic/")
}

// Hourly averages a series into hourly buckets (empty hours carry the last
// value forward).
func Hourly(times []time.Time, values []float64) []float64 {
	if len(times) == 0 {
		return nil
	}
	pts := make([]Point, 0, len(times))
	var cur time.Time
	sum, n := 0.0, 0
	for i, t := range times {
		b := t.Truncate(time.Hour)
		if !b.Equal(cur) && n > 0 {
			pts = append(pts, Point{Time: cur, Value: sum / float64(n)})
			sum, n = 0, 0
		}
		cur = b
		sum += values[i]
		n++
	}
	if n > 0 {
		pts = append(pts, Point{Time: cur, Value: sum / float64(n)})
	}
	return fillRegular(pts, time.Hour)
}

// ForecastAccuracy is the rolling-origin accuracy of one method on one
// series at one horizon.
type ForecastAccuracy struct {
	MASE  float64 `json:"mase"`
	SMAPE float64 `json:"smape"`
	MAE   float64 `json:"mae"`
	N     int     `json:"n"`
}

// ForecastEval holds the accuracy of Holt-Winters and the baselines on one
// series, keyed by horizon in hours.
type ForecastEval struct {
	Series   string                   `json:"series"`
	Hours    int                      `json:"hours"`
	Period   int                      `json:"period"`
	HW       map[int]ForecastAccuracy `json:"holt_winters"`
	Naive    map[int]ForecastAccuracy `json:"naive"`
	Seasonal map[int]ForecastAccuracy `json:"seasonal_naive"`
}

// EvaluateForecast runs a rolling-origin evaluation over an hourly series:
// from one week in, every originStep hours, Holt-Winters is refitted on the
// past only and its h-step-ahead forecast compared with what happened, for
// each horizon, together with the naive (last value) and seasonal naive
// (same hour one day before) forecasts. MASE scales absolute errors by the
// in-sample mean absolute error of the one-day seasonal naive forecast on
// the training part (Hyndman & Koehler, 2006); sMAPE is in percent.
func EvaluateForecast(name string, y []float64, horizons []int, originStep int) ForecastEval {
	const day = 24
	ev := ForecastEval{Series: name, Hours: len(y), HW: map[int]ForecastAccuracy{}, Naive: map[int]ForecastAccuracy{}, Seasonal: map[int]ForecastAccuracy{}}
	maxH := 0
	for _, h := range horizons {
		maxH = max(maxH, h)
	}
	type acc struct {
		mase, smape, mae float64
		n                int
	}
	hw, nv, sn := map[int]*acc{}, map[int]*acc{}, map[int]*acc{}
	for _, h := range horizons {
		hw[h], nv[h], sn[h] = &acc{}, &acc{}, &acc{}
	}
	add := func(a *acc, actual, f, scale float64) {
		e := math.Abs(actual - f)
		a.mae += e
		a.mase += e / scale
		a.smape += 100 * smapeTerm(actual, f)
		a.n++
	}
	for o := 7 * day; o+maxH <= len(y); o += originStep {
		train := y[:o]
		scale := 0.0
		for t := day; t < o; t++ {
			scale += math.Abs(train[t] - train[t-day])
		}
		scale /= float64(o - day)
		if scale == 0 {
			scale = 1e-9
		}
		for _, h := range horizons {
			m, err := FitHoltWintersAuto(train, h, day, 7*day)
			if err != nil {
				continue
			}
			if h == maxH {
				ev.Period = m.Period
			}
			fc := m.Forecast(h, 1.96)
			actual := y[o+h-1]
			add(hw[h], actual, fc[h-1].Value, scale)
			add(nv[h], actual, train[o-1], scale)
			k := (h + day - 1) / day
			add(sn[h], actual, y[o+h-1-k*day], scale)
		}
	}
	for _, h := range horizons {
		for _, p := range []struct {
			a   *acc
			dst map[int]ForecastAccuracy
		}{{hw[h], ev.HW}, {nv[h], ev.Naive}, {sn[h], ev.Seasonal}} {
			if p.a.n > 0 {
				n := float64(p.a.n)
				p.dst[h] = ForecastAccuracy{MASE: p.a.mase / n, SMAPE: p.a.smape / n, MAE: p.a.mae / n, N: p.a.n}
			}
		}
	}
	return ev
}

// Median returns the median of xs (NaN for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
