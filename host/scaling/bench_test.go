package scaling

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/metrics"
	"github.com/heady-dev/heady/host/store"
)

// benchDirs are the stores filled for the benchmarks, kept across the
// b.N rounds of one run and removed by TestMain.
var (
	benchDirs   []string
	benchOpen   []*store.Store
	benchStores = map[int]*Engine{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, st := range benchOpen {
		st.Close()
	}
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// benchEngine returns an engine evaluating the guide's default policy
// (cpu, memory, requests_per_min; dry-run) over a store holding `days` of
// 10 s samples of those three series and 47 others (50 in all). The store
// is filled once per run.
func benchEngine(b *testing.B, days int) *Engine {
	b.Helper()
	if e := benchStores[days]; e != nil {
		return e
	}
	dir, err := os.MkdirTemp("", "heady-scaling-bench-")
	if err != nil {
		b.Fatal(err)
	}
	benchDirs = append(benchDirs, dir)
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	benchOpen = append(benchOpen, st)
	ctx := context.Background()
	ms, err := metrics.Open(ctx, st, metrics.Options{Retention: 8 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"host.cpu", "host.memory", "api.requests_per_min"}
	for i := len(names); i < 50; i++ {
		names = append(names, fmt.Sprintf("custom.other%02d", i))
	}
	now := time.Now()
	steps := days * 24 * 360
	if steps == 0 {
		steps = 6 // the last minute only
	}
	batch := make([]metrics.Sample, 0, 100*len(names))
	for i := steps; i >= 0; i-- {
		ts := now.Add(-time.Duration(i) * 10 * time.Second)
		for j, n := range names {
			batch = append(batch, metrics.Sample{Series: n, Time: ts, Value: float64((i + j) % 60)})
		}
		if len(batch) >= 100*len(names) || i == 0 {
			if err := ms.Record(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	p := guide(func(p *config.Scaling) { p.DryRun = true })
	e := New(Options{Store: st, Metrics: ms})
	e.SetPolicies([]Policy{{Spec: p}})
	benchStores[days] = e
	return e
}

// BenchmarkEvaluate is one evaluation of the guide's policy (three metrics
// averaged over the last minute, the decision, and its record written
// through store.Apply) over a week of stored metrics, against the same
// evaluation over a store that holds only the last minute (the baseline).
func BenchmarkEvaluate(b *testing.B) {
	for _, tc := range []struct {
		name string
		days int
	}{{"week_of_50_series", 7}, {"baseline_last_minute", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			e := benchEngine(b, tc.days)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, err := e.Evaluate(ctx, "app", "api")
				if err != nil || len(d.Metrics) != 3 {
					b.Fatalf("decision %+v, %v", d, err)
				}
			}
		})
	}
}

// BenchmarkDecide is the decision math alone.
func BenchmarkDecide(b *testing.B) {
	p := guide()
	st := State{Recs: make([]Rec, 0, 30)}
	for i := 0; i < 30; i++ {
		st.Recs = append(st.Recs, Rec{Time: t0.Add(-time.Duration(i) * 10 * time.Second), N: 3})
	}
	in := Input{Now: t0, Current: 3, Values: vals(10, 20, 50), State: st}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = Decide(p, in)
	}
}
