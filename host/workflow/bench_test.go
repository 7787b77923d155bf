package workflow

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/store"
)

// benchPolicy is a 3-step chain of heady.noop actions triggered by events.
func benchPolicy(b testing.TB) *config.Policy {
	w := wf("bench",
		&config.Step{Name: "one", Action: "heady.noop", Input: inputs(b, "n", `event.data.n`)},
		&config.Step{Name: "two", Action: "heady.noop", DependsOn: []string{"one"}, Input: inputs(b, "n", `step.one.output.n`)},
		&config.Step{Name: "three", Action: "heady.noop", DependsOn: []string{"two"}, Input: inputs(b, "n", `step.two.output.n`)},
	)
	w.Triggers = []*config.Trigger{{Kind: config.TriggerEvent, EventType: "bench.*"}}
	return policy(w)
}

func benchHarness(b *testing.B, syncW bool) *harness {
	dir := b.TempDir()
	st, err := store.Open(dir, store.Options{SyncWrites: syncW})
	if err != nil {
		b.Fatal(err)
	}
	h := &harness{t: b, dir: dir, st: st, rec: &recorder{}}
	h.e = New(st, Options{Logger: testLogger()})
	if err := h.e.SetPolicy(benchPolicy(b)); err != nil {
		b.Fatal(err)
	}
	if err := h.e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.close)
	return h
}

func syncModes(b *testing.B, fn func(b *testing.B, syncW bool)) {
	for _, m := range []struct {
		name string
		sync bool
	}{{"nosync", false}, {"sync", true}} {
		b.Run(m.name, func(b *testing.B) { fn(b, m.sync) })
	}
}

// BenchmarkEngineThroughput measures executions per second of the 3-step
// workflow, each triggered by an event accepted through the durable inbox.
func BenchmarkEngineThroughput(b *testing.B) {
	syncModes(b, func(b *testing.B, syncW bool) {
		h := benchHarness(b, syncW)
		ctx := context.Background()
		const senders = 64
		b.ResetTimer()
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < senders; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(b.N) {
					for {
						_, err := h.e.AcceptEvent(ctx, events.Event{Type: "bench.tick", Data: map[string]any{"n": 1}})
						if err == nil {
							break
						}
						time.Sleep(time.Millisecond) // backpressure
					}
				}
			}()
		}
		wg.Wait()
		for h.e.Stats().Succeeded < int64(b.N) {
			time.Sleep(200 * time.Microsecond)
		}
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/el.Seconds(), "executions/s")
		if f := h.e.Stats().Failed; f != 0 {
			b.Fatalf("%d failed executions", f)
		}
	})
}

// BenchmarkEngineLatency measures, at low load (one event at a time), the
// time from AcceptEvent to the first step's start (durably recorded) and to
// the execution's end (durably recorded).
func BenchmarkEngineLatency(b *testing.B) {
	syncModes(b, func(b *testing.B, syncW bool) {
		h := benchHarness(b, syncW)
		ctx := context.Background()
		firstStep := make(chan time.Time, 16)
		done := make(chan time.Time, 16)
		h.e.Subscribe(func(u Update) {
			switch {
			case u.Step == "one" && u.Status == StatusRunning && u.Attempt == 1:
				firstStep <- time.Now()
			case u.Step == "" && u.Status.Finished():
				done <- time.Now()
			}
		})
		toFirst := make([]time.Duration, 0, b.N)
		toDone := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if _, err := h.e.AcceptEvent(ctx, events.Event{Type: "bench.tick", Data: map[string]any{"n": i}}); err != nil {
				b.Fatal(err)
			}
			toFirst = append(toFirst, (<-firstStep).Sub(t0))
			toDone = append(toDone, (<-done).Sub(t0))
		}
		b.StopTimer()
		b.ReportMetric(pct(toFirst, 50), "first-step-p50-µs")
		b.ReportMetric(pct(toFirst, 99), "first-step-p99-µs")
		b.ReportMetric(pct(toDone, 50), "completion-p50-µs")
		b.ReportMetric(pct(toDone, 99), "completion-p99-µs")
	})
}

func pct(d []time.Duration, p int) float64 {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s) - 1) * p / 100
	return float64(s[i]) / float64(time.Microsecond)
}

// rawWritesPerExecution mirrors the engine's writes for one execution of
// the 3-step workflow: one transaction per Apply call, with as many keys.
// accept(1) dispatch(4) start one(1) end one+start two(3) end two+start
// three(3) end three+finish(4).
var rawWritesPerExecution = []int{1, 4, 1, 3, 3, 4}

// BenchmarkRawBadgerDurableWrites does, directly with Badger and without
// group commit, the same transactions the engine commits per execution, from
// as many goroutines; it reports "executions"/s for comparison.
func BenchmarkRawBadgerDurableWrites(b *testing.B) {
	syncModes(b, func(b *testing.B, syncW bool) {
		opts := badger.DefaultOptions(filepath.Join(b.TempDir(), "db")).WithLogger(nil).WithSyncWrites(syncW).
			WithNumVersionsToKeep(1).WithMemTableSize(32 << 20).WithValueThreshold(1 << 10)
		db, err := badger.Open(opts)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		val := make([]byte, 200)
		const workers = 64
		b.ResetTimer()
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < workers; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n := next.Add(1)
					if n > int64(b.N) {
						return
					}
					for t, keys := range rawWritesPerExecution {
						err := db.Update(func(txn *badger.Txn) error {
							for k := 0; k < keys; k++ {
								if err := txn.Set([]byte(fmt.Sprintf("exec/%d/%d/%d", n, t, k)), val); err != nil {
									return err
								}
							}
							return nil
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/el.Seconds(), "executions/s")
		b.ReportMetric(float64(b.N*len(rawWritesPerExecution))/el.Seconds(), "txns/s")
	})
}
