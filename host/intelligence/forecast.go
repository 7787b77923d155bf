package intelligence

import (
	"errors"
	"math"
)

// Seasonality is the kind of seasonal component of a Holt-Winters model.
type Seasonality string

// Seasonality kinds.
const (
	SeasonNone           Seasonality = "none"
	SeasonAdditive       Seasonality = "additive"
	SeasonMultiplicative Seasonality = "multiplicative"
)

// HWModel is a fitted Holt-Winters (triple exponential smoothing) model.
type HWModel struct {
	Kind   Seasonality `json:"kind"`
	Period int         `json:"period"`
	Alpha  float64     `json:"alpha"`
	Beta   float64     `json:"beta"`
	Gamma  float64     `json:"gamma"`
	// Phi damps the trend (1: linear trend, 0: no trend).
	Phi float64 `json:"phi"`
	// Log is set when the model runs on the logarithm of the data (for
	// positive, spiky series); forecasts are medians on the data's scale.
	Log bool `json:"log"`
	// Sigma is the standard deviation of the one-step errors in the fit.
	Sigma float64 `json:"sigma"`
	// SSE is the sum of squared one-step errors over the fit.
	SSE float64 `json:"sse"`

	absLoss      bool    // fit on absolute rather than squared errors
	lo, hi       float64 // range of the fitted data
	level, trend float64
	season       []float64 // indexed by position mod Period
	n            int       // samples seen
}

// Prediction is one forecast point with its prediction interval.
type Prediction struct {
	Step  int     `json:"step"`
	Value float64 `json:"value"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// ErrTooShort is returned when a series is too short to fit.
var ErrTooShort = errors.New("series too short")

// DetectPeriod returns the candidate period (in samples) with the highest
// autocorrelation above 0.3, among those with at least two full cycles in
// the data, or 0 when the series shows no seasonality.
func DetectPeriod(y []float64, candidates ...int) int {
	best, bestR := 0, 0.3
	for _, p := range candidates {
		if p < 2 || len(y) < 2*p+1 {
			continue
		}
		if r := autocorr(y, p); r > bestR {
			best, bestR = p, r
		}
	}
	return best
}

func autocorr(y []float64, lag int) float64 {
	m := 0.0
	for _, v := range y {
		m += v
	}
	m /= float64(len(y))
	num, den := 0.0, 0.0
	for i, v := range y {
		den += (v - m) * (v - m)
		if i >= lag {
			num += (v - m) * (y[i-lag] - m)
		}
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// initHW sets the initial state from the first seasons.
func (m *HWModel) init(y []float64) {
	p := m.Period
	if m.Kind == SeasonNone || p < 2 {
		m.level = y[0]
		m.trend = 0
		if len(y) > 1 && m.Phi > 0 {
			m.trend = y[1] - y[0]
		}
		m.season = nil
		return
	}
	mean1, mean2 := 0.0, 0.0
	for i := 0; i < p; i++ {
		mean1 += y[i]
		mean2 += y[i+p]
	}
	mean1 /= float64(p)
	mean2 /= float64(p)
	m.level = mean1
	m.trend = (mean2 - mean1) / float64(p)
	if m.Phi == 0 {
		m.trend = 0
	}
	m.season = make([]float64, p)
	for i := 0; i < p; i++ {
		a := (y[i] + y[i+p]) / 2
		base := (mean1 + mean2) / 2
		if m.Kind == SeasonMultiplicative {
			if base == 0 {
				m.season[i] = 1
			} else {
				m.season[i] = a / base
			}
		} else {
			m.season[i] = a - base
		}
	}
}

// predictAt is the h-step-ahead point forecast from the current state.
func (m *HWModel) predictAt(h int) float64 {
	damp, p := 0.0, 1.0
	for k := 0; k < h; k++ {
		p *= m.Phi
		damp += p
	}
	base := m.level + damp*m.trend
	switch m.Kind {
	case SeasonAdditive:
		return base + m.season[(m.n+h-1)%m.Period]
	case SeasonMultiplicative:
		return base * m.season[(m.n+h-1)%m.Period]
	}
	return base
}

// Update feeds one observation and returns the one-step error it made
// (on the log scale for a Log model).
func (m *HWModel) Update(v float64) float64 {
	if m.Log {
		v = math.Log(math.Max(v, 1e-12))
	}
	return m.update(v)
}

func (m *HWModel) update(v float64) float64 {
	f := m.predictAt(1)
	err := v - f
	prevLevel := m.level
	switch m.Kind {
	case SeasonAdditive:
		s := m.season[m.n%m.Period]
		m.level = m.Alpha*(v-s) + (1-m.Alpha)*(m.level+m.Phi*m.trend)
		m.trend = m.Beta*(m.level-prevLevel) + (1-m.Beta)*m.Phi*m.trend
		m.season[m.n%m.Period] = m.Gamma*(v-m.level) + (1-m.Gamma)*s
	case SeasonMultiplicative:
		s := m.season[m.n%m.Period]
		if s == 0 {
			s = 1e-9
		}
		m.level = m.Alpha*(v/s) + (1-m.Alpha)*(m.level+m.Phi*m.trend)
		m.trend = m.Beta*(m.level-prevLevel) + (1-m.Beta)*m.Phi*m.trend
		if m.level != 0 {
			m.season[m.n%m.Period] = m.Gamma*(v/m.level) + (1-m.Gamma)*s
		}
	default:
		m.level = m.Alpha*v + (1-m.Alpha)*(m.level+m.Phi*m.trend)
		m.trend = m.Beta*(m.level-prevLevel) + (1-m.Beta)*m.Phi*m.trend
	}
	m.n++
	return err
}

// Forecast predicts the next h samples with prediction intervals at the
// given z (1.96 for 95%). The interval widens with the horizon as for the
// additive model: var(h) = sigma^2 (1 + sum_{j<h} c_j^2), c_j = alpha(1 +
// phi_j beta) + gamma [j mod period = 0], phi_j = phi + ... + phi^j.
func (m *HWModel) Forecast(h int, z float64) []Prediction {
	out := make([]Prediction, h)
	acc := 0.0
	for k := 1; k <= h; k++ {
		if k > 1 {
			damp, p := 0.0, 1.0
			for i := 0; i < k-1; i++ {
				p *= m.Phi
				damp += p
			}
			c := m.Alpha * (1 + damp*m.Beta)
			if m.Kind != SeasonNone && m.Period > 0 && (k-1)%m.Period == 0 {
				c += m.Gamma
			}
			acc += c * c
		}
		v := m.predictAt(k)
		w := z * m.Sigma * math.Sqrt(1+acc)
		if m.Kind == SeasonMultiplicative {
			// errors scale with the seasonal factor
			w *= math.Max(math.Abs(m.season[(m.n+k-1)%m.Period]), 1e-9)
		}
		out[k-1] = Prediction{Step: k, Value: m.point(v), Lower: m.point(v - w), Upper: m.point(v + w)}
	}
	return out
}

// FitHoltWinters chooses the seasonality kind (none, additive, and
// multiplicative for positive data), whether and how much trend (damped),
// and the smoothing parameters that minimise the squared one-step error
// over y, by grid search; it returns the model with its state at the end of
// y. period 0 means no season.
func FitHoltWinters(y []float64, period int) (*HWModel, error) {
	return FitHoltWintersH(y, period, 1)
}

// FitHoltWintersH is FitHoltWinters with the parameters chosen for
// forecasts h steps ahead: the error minimised is the absolute error of the
// h-step forecasts made along y.
func FitHoltWintersH(y []float64, period, h int) (*HWModel, error) {
	if len(y) < 4 || period > 0 && len(y) < 2*period+2 {
		return nil, ErrTooShort
	}
	best, _ := fitGrid(y, period, max(h, 1), max(period, 2))
	if best == nil {
		return nil, errors.New("forecast: no model fits")
	}
	return best, nil
}

// FitHoltWintersAuto finds the season from the data: every candidate
// period with at least three full cycles in y (and no season) is fitted, and
// the one whose h-step forecasts along y err least wins.
func FitHoltWintersAuto(y []float64, h int, periods ...int) (*HWModel, error) {
	if len(y) < 4 {
		return nil, ErrTooShort
	}
	valid := []int{0}
	skip := 2
	for _, p := range periods {
		if p >= 2 && len(y) >= 3*p {
			valid = append(valid, p)
			skip = max(skip, p)
		}
	}
	var best *HWModel
	bestLoss := math.Inf(1)
	for _, p := range valid {
		m, loss := fitGrid(y, p, max(h, 1), skip)
		if m != nil && loss < bestLoss {
			best, bestLoss = m, loss
		}
	}
	if best == nil {
		return nil, errors.New("forecast: no model fits")
	}
	return best, nil
}

func fitGrid(y []float64, period, h, skip int) (*HWModel, float64) {
	kinds := []Seasonality{SeasonNone}
	if period >= 2 {
		kinds = []Seasonality{SeasonAdditive}
		pos := true
		for _, v := range y {
			if v <= 0 {
				pos = false
				break
			}
		}
		if pos {
			kinds = append(kinds, SeasonMultiplicative)
		}
	}
	alphas := []float64{0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9}
	trends := []struct{ beta, phi float64 }{{0, 0}, {0.02, 0.9}, {0.1, 0.9}, {0.05, 0.98}}
	gammas := []float64{0.05, 0.15, 0.3, 0.5}
	pos := true
	for _, v := range y {
		if v <= 0 {
			pos = false
			break
		}
	}
	type variant struct {
		kind Seasonality
		log  bool
	}
	var vs []variant
	for _, k := range kinds {
		vs = append(vs, variant{k, false})
		if pos && k != SeasonMultiplicative {
			vs = append(vs, variant{k, true})
		}
	}
	var best *HWModel
	bestLoss := math.Inf(1)
	for _, vr := range vs {
		k := vr.kind
		gs := gammas
		if k == SeasonNone {
			gs = []float64{0}
		}
		for _, a := range alphas {
			for _, tr := range trends {
				for _, g := range gs {
					m := &HWModel{Kind: k, Period: period, Alpha: a, Beta: tr.beta, Phi: tr.phi, Gamma: g, Log: vr.log, absLoss: true}
					if k == SeasonNone {
						m.Period = 0
					}
					if loss := m.runFrom(y, skip, h); loss < bestLoss {
						bestLoss, best = loss, m
					}
				}
			}
		}
	}
	if best != nil {
		// rerun the winner so that Sigma is its one-step (RMS) error
		best.absLoss = false
		best.runFrom(y, skip, 1)
	}
	return best, bestLoss
}

// runFrom runs the model over y from its initial state and returns the sum
// of squared h-step errors of forecasts made from index skip on; Sigma is
// set from the same errors.
func (m *HWModel) runFrom(y []float64, skip, h int) float64 {
	m.lo, m.hi = math.Inf(1), math.Inf(-1)
	for _, v := range y {
		m.lo, m.hi = math.Min(m.lo, v), math.Max(m.hi, v)
	}
	ty := y
	if m.Log {
		ty = make([]float64, len(y))
		for i, v := range y {
			ty[i] = math.Log(v)
		}
	}
	m.init(ty)
	m.n = 0
	loss, cnt := 0.0, 0
	sq, sqn := 0.0, 0
	pending := make([]float64, h) // forecast for index i, made h steps earlier
	for i, v := range y {
		if i >= skip+h-1 {
			e := v - pending[i%h]
			if m.absLoss {
				loss += math.Abs(e)
			} else {
				loss += e * e
			}
			cnt++
		}
		e1 := m.update(ty[i])
		if i >= skip {
			sq += e1 * e1
			sqn++
		}
		if i+h < len(y) {
			pending[(i+h)%h] = m.point(m.predictAt(h))
		}
	}
	if sqn > 0 {
		m.Sigma = math.Sqrt(sq / float64(sqn))
	}
	m.SSE = loss
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return math.Inf(1)
	}
	return loss
}

// point maps a forecast of the model's internal scale back to the data's,
// clamped to the fitted data's range widened by that range on each side: a
// runaway trend or season must not forecast the absurd.
func (m *HWModel) point(v float64) float64 {
	if m.Log {
		v = math.Exp(v)
	}
	if m.hi > m.lo {
		w := m.hi - m.lo
		v = math.Max(m.lo-w, math.Min(m.hi+w, v))
	}
	return v
}
