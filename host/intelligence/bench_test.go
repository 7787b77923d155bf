package intelligence

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/store"
)

// BenchmarkDetector measures the streaming detector in samples/s beside
// NAB's windowed Gaussian baseline on the same series.
func BenchmarkDetector(b *testing.B) {
	y := noisySine(20000, 1)
	b.Run("heady", func(b *testing.B) {
		d := NewDetector(DefaultDetectorConfig())
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			d.Update(y[i%len(y)])
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	})
	b.Run("windowed-gaussian", func(b *testing.B) {
		n := 0
		for n < b.N {
			k := min(len(y), b.N-n)
			windowedGaussian(y[:k])
			n += k
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	})
}

// BenchmarkFitHoltWinters fits two weeks of hourly data (the grid search
// over kinds, trends and smoothing parameters, daily season).
func BenchmarkFitHoltWinters(b *testing.B) {
	y := seasonal(24*14, 3, 1)
	for i := 0; i < b.N; i++ {
		if _, err := FitHoltWintersAuto(y, 24, 24, 168); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fits/s")
}

// benchTrail is 30 days of 20 actors with habits and noise.
func benchTrail(n int) trail {
	rng := rand.New(rand.NewSource(1))
	wfs := []string{"deploy", "test", "backup", "report", "cleanup", "sync", "notify", "scale"}
	var t trail
	at := day0
	for i := 0; i < n; i++ {
		at = at.Add(time.Duration(rng.Intn(600)) * time.Second)
		actor := fmt.Sprintf("user%d", rng.Intn(20))
		wf := wfs[rng.Intn(len(wfs))]
		if rng.Intn(3) == 0 {
			wf = wfs[(i/3)%3] // a habit
		}
		t = append(t, audit.Entry{Seq: uint64(i + 1), ID: fmt.Sprint(i), Time: at, Actor: actor, ActorKind: audit.ActorToken,
			Action: "workflow.execute", ResourceType: "workflow", ResourceID: wf, Outcome: audit.OutcomeSuccess})
	}
	return t
}

// BenchmarkAnalyze runs a whole analysis (sessions, mining, insights,
// suggestions persisted in Badger) over an audit trail of 10,000 entries.
func BenchmarkAnalyze(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tr := benchTrail(10000)
	e := New(Options{Store: st, Audit: tr, Lookback: 365 * 24 * time.Hour, Now: func() time.Time { return tr[len(tr)-1].Time }})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Analyze(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(tr))/b.Elapsed().Seconds(), "entries/s")
}
