package intelligence

import (
	"math"
)

// DetectorConfig tunes the streaming anomaly detector. Start from
// DefaultDetectorConfig.
type DetectorConfig struct {
	// GridBins are the grid sizes (levels across the warm-up range) of the
	// contextual novelty models; each is used with GridShifts offsets.
	GridBins   []int
	GridShifts int
	// Smooth are the moving-average windows whose output the models
	// quantise (1: the raw value). The most novel window wins.
	Smooth []int
	// Context is how many previous levels form the longest context.
	Context int
	// LevelWeight weighs the novelty of the level itself (a value never
	// seen) against that of each longer context (weight 1).
	LevelWeight float64
	// Warmup is the number of samples whose range fixes the grids; scores
	// are 0 until then.
	Warmup int
	// RateWindow is the history, in samples, of the mean novelty the raw
	// score is discounted by (a noisy series is often novel).
	RateWindow int
	// Suppress is how many samples a score must exceed every earlier score
	// within to be reported: one event yields one detection.
	Suppress int
}

// DefaultDetectorConfig is the configuration measured on NAB (see the
// package documentation of the evaluation command).
func DefaultDetectorConfig() DetectorConfig {
	return DetectorConfig{
		GridBins: []int{4, 6, 8}, GridShifts: 3, Smooth: []int{1, 12, 48},
		Context: 1, LevelWeight: 6, Warmup: 300, RateWindow: 2000, Suppress: 60,
	}
}

// Detector scores a stream of samples, one score in [0, 1] per sample. It is
// causal: the score of a sample depends only on it and the samples before it.
//
// The raw score is contextual novelty, in the spirit of the Contextual
// Anomaly Detector: the value (raw and moving averages of it) is quantised
// on several grids fixed from the warm-up range; a level never seen, or a
// level never seen after the previous one, is novel. The raw score is the
// weighted share of novel (level, context) pairs over the grids, for the
// most novel smoothing window. It is discounted by the series' own recent
// novelty rate, and a score is reported only when it exceeds every score of
// the last Suppress samples (otherwise 0).
//
// A Detector is not safe for concurrent use.
type Detector struct {
	cfg      DetectorConfig
	n        int
	min, max float64

	models []*ctxModel
	smooth []ring
	rate   ring // recent raw scores
	outs   ring // recent scores before suppression
}

// NewDetector returns a detector with the given configuration.
func NewDetector(cfg DetectorConfig) *Detector {
	if len(cfg.Smooth) == 0 {
		cfg.Smooth = []int{1}
	}
	if len(cfg.GridBins) == 0 {
		cfg.GridBins = []int{6}
	}
	cfg.GridShifts = max(cfg.GridShifts, 1)
	d := &Detector{cfg: cfg, rate: newRing(max(cfg.RateWindow, 1)), outs: newRing(max(cfg.Suppress, 1))}
	for _, w := range cfg.Smooth {
		d.smooth = append(d.smooth, newRing(max(w, 1)))
	}
	return d
}

// ring is a fixed-size window with a running sum.
type ring struct {
	buf  []float64
	i, n int
	sum  float64
}

func newRing(size int) ring { return ring{buf: make([]float64, max(size, 1))} }

func (r *ring) push(v float64) {
	if r.n == len(r.buf) {
		r.sum -= r.buf[r.i]
	} else {
		r.n++
	}
	r.buf[r.i] = v
	r.i = (r.i + 1) % len(r.buf)
	r.sum += v
}

func (r *ring) mean() float64 {
	if r.n == 0 {
		return 0
	}
	return r.sum / float64(r.n)
}

func (r *ring) maxv() float64 {
	m := math.Inf(-1)
	for k := 0; k < r.n; k++ {
		m = math.Max(m, r.buf[k])
	}
	return m
}

// Update feeds one sample and returns its anomaly score in [0, 1].
func (d *Detector) Update(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	d.n++
	if d.n == 1 {
		d.min, d.max = v, v
	}
	raw := d.contextScore(v)
	d.min, d.max = math.Min(d.min, v), math.Max(d.max, v)

	score := raw
	if d.rate.n > 0 {
		m := d.rate.mean()
		score = math.Max(0, raw-m) / math.Max(1-m, 1e-9)
	}
	d.rate.push(raw)
	if d.n <= d.cfg.Warmup {
		score = 0
	}
	score = math.Max(0, math.Min(1, score))
	out := score
	if d.cfg.Suppress > 0 && d.outs.n > 0 && score <= d.outs.maxv() {
		out = 0
	}
	d.outs.push(score)
	return out
}

// ctxModel is one contextual novelty model: a value grid fixed from the
// warm-up range (values beyond it fall on new levels of the same width) and
// the level sequences of each length seen so far.
type ctxModel struct {
	src         int // index of the smoothing window
	k           int
	offset      float64
	base, step  float64
	levelWeight float64
	levels      []int64
	seen        []map[uint64]struct{}
}

// score is the weighted share of context lengths 0..k for which the current
// level has never followed the previous levels.
func (m *ctxModel) score(v float64) float64 {
	lvl := int64(math.Floor((v-m.base)/m.step + m.offset))
	m.levels = append(m.levels, lvl)
	if len(m.levels) > m.k+1 {
		m.levels = m.levels[1:]
	}
	if m.seen == nil {
		m.seen = make([]map[uint64]struct{}, m.k+1)
		for k := range m.seen {
			m.seen[k] = map[uint64]struct{}{}
		}
	}
	novel, total := 0.0, 0.0
	n := len(m.levels)
	for k := 0; k <= m.k && k < n; k++ {
		var key uint64 = 1469598103934665603 // FNV-1a over the levels
		for _, l := range m.levels[n-1-k:] {
			key ^= uint64(l)
			key *= 1099511628211
		}
		w := 1.0
		if k == 0 && m.levelWeight > 0 {
			w = m.levelWeight
		}
		total += w
		if _, ok := m.seen[k][key]; !ok {
			m.seen[k][key] = struct{}{}
			novel += w
		}
	}
	return novel / total
}

// contextScore feeds the smoothing windows and returns the novelty of the
// most novel one, each the mean over its grids. The grids are fixed when
// the warm-up ends, from the range seen so far.
func (d *Detector) contextScore(v float64) float64 {
	for i := range d.smooth {
		d.smooth[i].push(v)
	}
	if d.models == nil {
		if d.n < d.cfg.Warmup {
			return 0
		}
		lo := math.Min(d.min, v)
		span := math.Max(d.max, v) - lo
		if span <= 0 {
			span = math.Max(math.Abs(v), 1)
		}
		for si := range d.smooth {
			for _, b := range d.cfg.GridBins {
				for o := 0; o < d.cfg.GridShifts; o++ {
					d.models = append(d.models, &ctxModel{src: si, k: d.cfg.Context, levelWeight: d.cfg.LevelWeight,
						offset: float64(o) / float64(d.cfg.GridShifts), base: lo, step: span / float64(b)})
				}
			}
		}
	}
	per := make([]float64, len(d.smooth))
	cnt := make([]int, len(d.smooth))
	for _, m := range d.models {
		per[m.src] += m.score(d.smooth[m.src].mean())
		cnt[m.src]++
	}
	out := 0.0
	for i := range per {
		if cnt[i] > 0 {
			out = math.Max(out, per[i]/float64(cnt[i]))
		}
	}
	return out
}

// DetectSeries runs a fresh detector over values and returns every score.
func DetectSeries(cfg DetectorConfig, values []float64) []float64 {
	d := NewDetector(cfg)
	out := make([]float64, len(values))
	for i, v := range values {
		out[i] = d.Update(v)
	}
	return out
}
