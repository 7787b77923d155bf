package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/heady-dev/heady/host/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return st
}

// newLog opens a store in a fresh directory and a log on it; both close at
// the end of the test.
func newLog(t testing.TB, now func() time.Time) (*store.Store, *Log) {
	t.Helper()
	st := openStore(t, t.TempDir())
	l, err := Open(context.Background(), st, Options{Now: now})
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	t.Cleanup(func() {
		l.Close()
		st.Close()
	})
	return st, l
}

func mustAppend(t testing.TB, l *Log, e Entry) Entry {
	t.Helper()
	got, err := l.Append(context.Background(), e)
	if err != nil {
		t.Fatalf("append %s: %v", e.Action, err)
	}
	return got
}

func simple(i int) Entry {
	return Entry{Actor: "ops", ActorKind: ActorToken, Action: "api.request", ResourceType: "workflow",
		ResourceID: fmt.Sprintf("wf-%d", i%3), Source: "127.0.0.1:5000", Outcome: OutcomeSuccess,
		Details: map[string]any{"i": i, "path": "/api/v1/automation/workflows"}}
}

func TestVerifyFreshChain(t *testing.T) {
	_, l := newLog(t, nil)
	rep, err := l.Verify(context.Background())
	if err != nil || !rep.OK || rep.Checked != 0 {
		t.Fatalf("empty log: report %+v, err %v", rep, err)
	}
	var prev string
	for i := range 100 {
		e := mustAppend(t, l, simple(i))
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d got seq %d", i, e.Seq)
		}
		if e.PrevHash != prev {
			t.Fatalf("entry %d prev hash %q, want %q", e.Seq, e.PrevHash, prev)
		}
		prev = e.Hash
	}
	rep, err = l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Checked != 100 || rep.Head != 100 || rep.HeadHash != prev {
		t.Fatalf("report %+v", rep)
	}
	seq, hash := l.Head()
	if seq != 100 || hash != prev {
		t.Fatalf("Head() = %d %s", seq, hash)
	}
}

func TestAppendRequiresAction(t *testing.T) {
	_, l := newLog(t, nil)
	if _, err := l.Append(context.Background(), Entry{Actor: "x"}); err == nil {
		t.Fatal("append without action succeeded")
	}
}

func TestIDsAndTimesOrdered(t *testing.T) {
	c := newClock()
	_, l := newLog(t, c.Now)
	var last Entry
	for i := range 50 {
		if i == 25 {
			c.Add(-time.Hour) // the wall clock steps back
		}
		e := mustAppend(t, l, simple(i))
		if i > 0 && (e.ID <= last.ID || e.Time.Before(last.Time)) {
			t.Fatalf("entry %d (id %s, time %s) not after entry %d (id %s, time %s)", e.Seq, e.ID, e.Time, last.Seq, last.ID, last.Time)
		}
		last = e
	}
}

// TestDetailsRoundTrip checks that values whose JSON form is not stable on
// the first pass (large integers, structs, invalid UTF-8) still verify.
func TestDetailsRoundTrip(t *testing.T) {
	_, l := newLog(t, nil)
	type inner struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	e := mustAppend(t, l, Entry{Actor: "bad\xffutf8", Action: "api.request", Outcome: OutcomeSuccess,
		Details: map[string]any{"big": uint64(1<<63 + 5), "f": 0.1, "s": inner{A: 1, B: "<&>"}, "t": time.Unix(1, 5).UTC()}})
	got, err := l.Get(context.Background(), e.Seq)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := got.Details["big"].(json.Number); !ok || n.String() != "9223372036854775813" {
		t.Fatalf("big number came back as %#v", got.Details["big"])
	}
	if got.Actor != "bad\uFFFDutf8" || got.Hash != e.Hash {
		t.Fatalf("got %+v, appended %+v", got, e)
	}
	rep, err := l.Verify(context.Background())
	if err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestHashGolden(t *testing.T) {
	e := Entry{Seq: 7, ID: "01J00000000000000000000000", Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Actor: "ops", ActorKind: ActorToken, Action: "workflow.execute", ResourceType: "workflow", ResourceID: "auto/backup",
		Source: "127.0.0.1:1", Outcome: OutcomeSuccess, Security: true, RequestID: "r1",
		Details: map[string]any{"z": 1, "a": []any{"x", true}}, PrevHash: strings.Repeat("ab", 32)}
	if err := normalize(&e); err != nil {
		t.Fatal(err)
	}
	h, err := computeHash(&e)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "hash.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(h+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if h != strings.TrimSpace(string(want)) {
		t.Fatalf("canonical hash changed: %s, golden %s; old chains would no longer verify", h, want)
	}
}

func TestReopenContinuesChain(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st := openStore(t, dir)
	l, err := Open(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		mustAppend(t, l, simple(i))
	}
	l.Close()
	// A lost head record must not make the log reuse sequence numbers.
	if err := st.DB().Update(func(txn *badger.Txn) error { return txn.Delete([]byte(keyHead)) }); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	l, err = Open(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := mustAppend(t, l, simple(10))
	if e.Seq != 11 {
		t.Fatalf("seq after reopen = %d, want 11", e.Seq)
	}
	rep, err := l.Verify(ctx)
	if err != nil || !rep.OK || rep.Checked != 11 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	if _, err := l.Append(ctx, simple(0)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := l.Append(ctx, simple(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

func TestTamperDetection(t *testing.T) {
	const n = 20
	tests := []struct {
		name       string
		tamper     func(t *testing.T, st *store.Store, l *Log)
		wantBad    uint64
		wantReason string
	}{
		{
			name: "altered bytes",
			tamper: func(t *testing.T, st *store.Store, _ *Log) {
				rewrite(t, st, 7, func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"outcome":"success"`), []byte(`"outcome":"failure"`), 1)
				})
			},
			wantBad: 7, wantReason: "hash mismatch",
		},
		{
			name: "altered time",
			tamper: func(t *testing.T, st *store.Store, _ *Log) {
				rewrite(t, st, 1, func(b []byte) []byte {
					e, err := decodeEntry(b)
					if err != nil {
						t.Fatal(err)
					}
					e.Time = e.Time.Add(time.Second)
					out, err := encodeEntry(&e)
					if err != nil {
						t.Fatal(err)
					}
					return out
				})
			},
			wantBad: 1, wantReason: "hash mismatch",
		},
		{
			name: "forged entry with recomputed hash",
			tamper: func(t *testing.T, st *store.Store, _ *Log) {
				rewrite(t, st, 12, func(b []byte) []byte {
					e, err := decodeEntry(b)
					if err != nil {
						t.Fatal(err)
					}
					e.Actor = "someone-else"
					if e.Hash, err = computeHash(&e); err != nil {
						t.Fatal(err)
					}
					out, err := encodeEntry(&e)
					if err != nil {
						t.Fatal(err)
					}
					return out
				})
			},
			wantBad: 13, wantReason: "chain broken: previous hash mismatch",
		},
		{
			name:    "entry removed in the middle",
			tamper:  func(t *testing.T, st *store.Store, _ *Log) { deleteKey(t, st, entryKey(9)) },
			wantBad: 9, wantReason: "chain broken: entry missing",
		},
		{
			name:    "first entry removed",
			tamper:  func(t *testing.T, st *store.Store, _ *Log) { deleteKey(t, st, entryKey(1)) },
			wantBad: 1, wantReason: "chain broken: entry missing",
		},
		{
			name:    "last entry removed",
			tamper:  func(t *testing.T, st *store.Store, _ *Log) { deleteKey(t, st, entryKey(n)) },
			wantBad: n, wantReason: "head mismatch",
		},
		{
			name: "tail removed",
			tamper: func(t *testing.T, st *store.Store, _ *Log) {
				for s := uint64(15); s <= n; s++ {
					deleteKey(t, st, entryKey(s))
				}
			},
			wantBad: 15, wantReason: "head mismatch: entries after 14 removed",
		},
		{
			name:    "head record removed",
			tamper:  func(t *testing.T, st *store.Store, _ *Log) { deleteKey(t, st, keyHead) },
			wantBad: n, wantReason: "head record missing",
		},
		{
			name: "anchor forged to hide the start",
			tamper: func(t *testing.T, st *store.Store, _ *Log) {
				for s := uint64(1); s <= 3; s++ {
					deleteKey(t, st, entryKey(s))
				}
				putKey(t, st, keyAnchor, store.MustEncode(chainPoint{Seq: 3, Hash: strings.Repeat("0", 64)}))
			},
			wantBad: 4, wantReason: "chain broken: previous hash mismatch",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, l := newLog(t, nil)
			for i := range n {
				mustAppend(t, l, simple(i))
			}
			if rep, err := l.Verify(context.Background()); err != nil || !rep.OK {
				t.Fatalf("before tampering: %+v %v", rep, err)
			}
			tt.tamper(t, st, l)
			rep, err := l.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.FirstBad != tt.wantBad || !strings.HasPrefix(rep.Reason, tt.wantReason) {
				t.Fatalf("report %+v; want first bad %d, reason %q", rep, tt.wantBad, tt.wantReason)
			}
		})
	}
}

func rewrite(t *testing.T, st *store.Store, seq uint64, fn func([]byte) []byte) {
	t.Helper()
	err := st.DB().Update(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(entryKey(seq)))
		if err != nil {
			return err
		}
		b, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		nb := fn(b)
		if bytes.Equal(nb, b) {
			return fmt.Errorf("tamper function changed nothing")
		}
		return txn.Set([]byte(entryKey(seq)), nb)
	})
	if err != nil {
		t.Fatalf("tamper with %d: %v", seq, err)
	}
}

func deleteKey(t *testing.T, st *store.Store, key string) {
	t.Helper()
	if err := st.DB().Update(func(txn *badger.Txn) error { return txn.Delete([]byte(key)) }); err != nil {
		t.Fatal(err)
	}
}

func putKey(t *testing.T, st *store.Store, key string, v []byte) {
	t.Helper()
	if err := st.DB().Update(func(txn *badger.Txn) error { return txn.Set([]byte(key), v) }); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentAppend(t *testing.T) {
	st, l := newLog(t, nil)
	var mu sync.Mutex
	batches := 0
	st.OnCommit(func(ops []store.Op) {
		for _, op := range ops {
			if string(op.Key) == keyHead {
				mu.Lock()
				batches++
				mu.Unlock()
			}
		}
	})
	const goroutines, each = 50, 40
	seqs := make(chan uint64, goroutines*each)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				e, err := l.Append(context.Background(), Entry{Actor: fmt.Sprintf("g%d", g), Action: "api.request", Outcome: OutcomeSuccess, Details: map[string]any{"i": i}})
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- e.Seq
			}
		})
	}
	wg.Wait()
	close(seqs)
	var got []uint64
	for s := range seqs {
		got = append(got, s)
	}
	slices.Sort(got)
	if len(got) != goroutines*each {
		t.Fatalf("%d appends acknowledged, want %d", len(got), goroutines*each)
	}
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("seqs not dense: position %d holds %d", i, s)
		}
	}
	rep, err := l.Verify(context.Background())
	if err != nil || !rep.OK || rep.Checked != goroutines*each {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	mu.Lock()
	t.Logf("%d entries committed in %d batches", len(got), batches)
	if batches == 0 || batches > len(got) {
		t.Fatalf("batches = %d", batches)
	}
	mu.Unlock()
}

func TestAppendAsyncAndCancel(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	l, err := Open(context.Background(), st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A cancelled context may still be queued if the queue has room; either
	// way Append must report an outcome consistent with the store.
	if e, err := l.Append(ctx, simple(0)); err == nil && e.Seq != 1 {
		t.Fatalf("append with cancelled ctx: %+v", e)
	}
	before, _ := l.Head()
	for i := range 10 {
		if err := l.AppendAsync(context.Background(), Entry{Actor: "healing", ActorKind: ActorSystem, Action: "healing.restart", Outcome: OutcomeSuccess, Details: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close() // drains the queue
	if err := l.AppendAsync(context.Background(), simple(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("async append after close: %v", err)
	}
	l2, err := Open(context.Background(), st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	rep, err := l2.Verify(context.Background())
	if err != nil || !rep.OK || rep.Head != before+10 {
		t.Fatalf("after async appends: %+v %v (head before %d)", rep, err, before)
	}
	got, _, err := l2.List(context.Background(), Filter{Actor: "healing"})
	if err != nil || len(got) != 10 {
		t.Fatalf("listed %d async entries: %v", len(got), err)
	}
}

func TestLargeEntriesSplitIntoBatches(t *testing.T) {
	st, l := newLog(t, nil)
	var mu sync.Mutex
	var batchOps []int
	st.OnCommit(func(ops []store.Op) {
		mu.Lock()
		batchOps = append(batchOps, len(ops))
		mu.Unlock()
	})
	big := strings.Repeat("x", 200<<10) // 200 KiB: five of these exceed one batch
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := l.Append(context.Background(), Entry{Action: "api.request", Outcome: OutcomeSuccess, Details: map[string]any{"body": big, "i": i}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := l.Append(context.Background(), Entry{Action: "api.request", Details: map[string]any{"body": big + big}}); err == nil {
		t.Fatal("entry with 400 KiB of details accepted")
	}
	rep, err := l.Verify(context.Background())
	if err != nil || !rep.OK || rep.Checked != 20 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range batchOps {
		if n > 5*2 { // at most 5 entries (entry key + head) per 1 MiB batch
			t.Fatalf("a batch carried %d ops; batch sizes %v", n, batchOps)
		}
	}
}
