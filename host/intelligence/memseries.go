package intelligence

import (
	"context"
	"sort"
	"sync"
	"time"
)

// MemorySeries keeps recent samples in memory: the fallback metric source
// when no metrics store is available. It is safe for concurrent use.
type MemorySeries struct {
	mu     sync.Mutex
	keep   time.Duration
	series map[string][]Point
}

// NewMemorySeries keeps samples for the given duration.
func NewMemorySeries(keep time.Duration) *MemorySeries {
	return &MemorySeries{keep: keep, series: map[string][]Point{}}
}

// Add records one sample; samples must come in time order per series.
func (m *MemorySeries) Add(series string, t time.Time, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := append(m.series[series], Point{Time: t, Value: v})
	cut := sort.Search(len(s), func(i int) bool { return t.Sub(s[i].Time) <= m.keep })
	if cut > len(s)/2 {
		s = append([]Point(nil), s[cut:]...)
	}
	m.series[series] = s
}

// Range averages the samples in [from, to) into buckets of step.
func (m *MemorySeries) Range(_ context.Context, series string, from, to time.Time, step time.Duration) ([]Point, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Point
	var sum float64
	var n int
	var cur time.Time
	flush := func() {
		if n > 0 {
			out = append(out, Point{Time: cur, Value: sum / float64(n)})
		}
	}
	for _, p := range m.series[series] {
		if p.Time.Before(from) || !p.Time.Before(to) {
			continue
		}
		b := from.Add(p.Time.Sub(from) / step * step)
		if !b.Equal(cur) {
			flush()
			cur, sum, n = b, 0, 0
		}
		sum += p.Value
		n++
	}
	flush()
	return out, nil
}
