package audit

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/heady-dev/heady/host/store"
)

// typicalEntry is an API request entry whose stored record is about 300 bytes.
func typicalEntry(i int) Entry {
	return Entry{Actor: "deploy-bot", ActorKind: ActorToken, Action: "workflow.execute", ResourceType: "workflow",
		ResourceID: "auto_backup", Source: "127.0.0.1:53122", Outcome: OutcomeSuccess, RequestID: "01JREQ0000000000000000000",
		Details: map[string]any{"status": 202, "n": i}}
}

// typicalRecordSize is the stored size of typicalEntry once sealed.
func typicalRecordSize(tb testing.TB) int {
	e := typicalEntry(123456)
	e.Seq, e.ID, e.PrevHash, e.Hash = 123456, strings.Repeat("0", 26), strings.Repeat("a", 64), strings.Repeat("b", 64)
	if err := normalize(&e); err != nil {
		tb.Fatal(err)
	}
	b, err := encodeEntry(&e)
	if err != nil {
		tb.Fatal(err)
	}
	return len(b)
}

func benchAppend(b *testing.B, syncWrites bool) {
	st, err := store.Open(b.TempDir(), store.Options{SyncWrites: syncWrites})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	l, err := Open(context.Background(), st, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetBytes(int64(typicalRecordSize(b)))
	b.SetParallelism(32)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(context.Background(), typicalEntry(int(n.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkAuditAppend measures durable (to the store's default level)
// parallel appends of a typical entry on real on-disk Badger.
func BenchmarkAuditAppend(b *testing.B) { benchAppend(b, false) }

// BenchmarkAuditAppendSync is BenchmarkAuditAppend with fsync before each
// acknowledgement (group-committed).
func BenchmarkAuditAppendSync(b *testing.B) { benchAppend(b, true) }

// BenchmarkRawBadgerBatch is the baseline: the same number of records of the
// same size written through a raw Badger WriteBatch on the same kind of
// database, with no hashing, indexing or acknowledgement.
func BenchmarkRawBadgerBatch(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	size := typicalRecordSize(b)
	val := []byte(strings.Repeat("x", size))
	b.SetBytes(int64(size))
	b.ResetTimer()
	wb := st.DB().NewWriteBatch()
	for i := range b.N {
		if err := wb.Set(fmt.Appendf(nil, "bench/e/%020d", i), val); err != nil {
			b.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
