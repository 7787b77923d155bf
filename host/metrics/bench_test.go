package metrics

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/store"
)

// fillWeek fills ms with a week of 10 s samples for n series ending at end, in
// time order, 100 timestamps per batch.
func fillWeek(tb testing.TB, ms *Store, n int, end time.Time) int {
	tb.Helper()
	ctx := context.Background()
	const step = 10 * time.Second
	steps := int(7 * 24 * time.Hour / step)
	start := end.Add(-time.Duration(steps) * step)
	batch := make([]Sample, 0, 100*n)
	total := 0
	for i := 0; i < steps; i++ {
		ts := start.Add(time.Duration(i) * step)
		for s := 0; s < n; s++ {
			batch = append(batch, Sample{Series: fmt.Sprintf("bench.series%02d", s), Time: ts, Value: float64((i + s) % 100)})
		}
		if len(batch) >= 100*n || i == steps-1 {
			if err := ms.Record(ctx, batch); err != nil {
				tb.Fatal(err)
			}
			total += len(batch)
			batch = batch[:0]
		}
	}
	return total
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// BenchmarkWeekOf50Series records a week of 10 s samples for 50 series
// (3 024 000 samples with their roll-ups) and reports the space they take:
// on disk after a flush, per sample, and the Go heap the store holds.
func BenchmarkWeekOf50Series(b *testing.B) {
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		st, err := store.Open(dir, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		end := time.Now()
		ms, err := Open(context.Background(), st, Options{Retention: 8 * 24 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		n := fillWeek(b, ms, 50, end)
		fill := time.Since(start)
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		disk := dirSize(dir)
		b.ReportMetric(float64(n), "samples")
		b.ReportMetric(float64(disk)/(1<<20), "disk_MiB")
		b.ReportMetric(float64(disk)/float64(n), "disk_B/sample")
		b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heap_MiB")
		b.ReportMetric(float64(n)/fill.Seconds(), "samples/s")
	}
}

// BenchmarkRangeWeek answers a week of one series at a chart's resolution
// from the hourly roll-ups, against the same answer computed from raw
// samples (the baseline).
func BenchmarkRangeWeek(b *testing.B) {
	dir := b.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	end := time.Now().Truncate(time.Hour)
	ms, err := Open(context.Background(), st, Options{Retention: 8 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	fillWeek(b, ms, 3, end)
	from := end.Add(-7 * 24 * time.Hour)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		from time.Time
		step time.Duration
	}{
		{"hourly_rollups", from, time.Hour},
		{"minute_rollups", from, 30 * time.Minute},
		{"raw_baseline", from.Add(time.Second), time.Hour}, // unaligned: reads raw samples
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				pts, err := ms.Range(ctx, "bench.series01", tc.from, end, tc.step)
				if err != nil || len(pts) < 167 {
					b.Fatalf("%d points, %v", len(pts), err)
				}
			}
		})
	}
}
