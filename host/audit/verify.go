package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/heady-dev/heady/host/store"
)

// Report is the outcome of Verify.
type Report struct {
	OK bool `json:"ok"`
	// Checked is the number of entries whose hash and link were verified.
	Checked uint64 `json:"checked"`
	// Start is the first seq the walk expected (after the retention anchor).
	Start uint64 `json:"start"`
	// FirstBad is the seq of the first altered or missing entry (0 when OK).
	FirstBad uint64 `json:"first_bad,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Head is the head record as stored.
	Head     uint64 `json:"head"`
	HeadHash string `json:"head_hash,omitempty"`
}

// Verify walks the chain from the retention anchor to the head record in one
// consistent snapshot and reports the first entry that was altered (its hash
// no longer matches its content), removed (a gap in seq or a broken link),
// or cut off the tail (the head record is ahead of the last entry).
func (l *Log) Verify(ctx context.Context) (Report, error) {
	var rep Report
	err := l.st.DB().View(func(txn *badger.Txn) error {
		var anchor, head chainPoint
		if err := getRecord(txn, keyAnchor, &anchor); err != nil {
			return fmt.Errorf("read anchor: %w", err)
		}
		headErr := getRecord(txn, keyHead, &head)
		if headErr != nil && !errors.Is(headErr, store.ErrNotFound) {
			return fmt.Errorf("read head: %w", headErr)
		}
		rep.Head, rep.HeadHash = head.Seq, head.Hash
		rep.Start = anchor.Seq + 1
		fail := func(seq uint64, reason string) error {
			rep.FirstBad, rep.Reason = seq, reason
			return errStop
		}
		expect, prev := anchor.Seq+1, anchor.Hash
		o := badger.DefaultIteratorOptions
		o.Prefix = []byte(prefixEntry)
		it := txn.NewIterator(o)
		defer it.Close()
		for it.Seek(o.Prefix); it.ValidForPrefix(o.Prefix); it.Next() {
			if rep.Checked%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			key := string(it.Item().Key())
			seq, ok := seqFromKey(key)
			if !ok {
				return fail(expect, fmt.Sprintf("malformed entry key %q", key))
			}
			switch {
			case seq < expect:
				return fail(seq, fmt.Sprintf("entry %d precedes the retention anchor %d", seq, anchor.Seq))
			case seq > expect:
				return fail(expect, "chain broken: entry missing")
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			e, err := decodeEntry(v)
			if err != nil {
				return fail(seq, "entry unreadable: "+err.Error())
			}
			if e.Seq != seq {
				return fail(seq, fmt.Sprintf("entry stored under seq %d claims seq %d", seq, e.Seq))
			}
			h, err := computeHash(&e)
			if err != nil {
				return fail(seq, err.Error())
			}
			if h != e.Hash {
				return fail(seq, "hash mismatch")
			}
			if e.PrevHash != prev {
				return fail(seq, "chain broken: previous hash mismatch")
			}
			rep.Checked++
			expect, prev = seq+1, e.Hash
		}
		last := expect - 1
		switch {
		case errors.Is(headErr, store.ErrNotFound):
			if last > anchor.Seq {
				return fail(last, "head record missing")
			}
		case head.Seq > last:
			return fail(last+1, fmt.Sprintf("head mismatch: entries after %d removed (head is %d)", last, head.Seq))
		case head.Seq < last:
			return fail(head.Seq+1, fmt.Sprintf("head mismatch: entries after head %d", head.Seq))
		case head.Hash != prev:
			return fail(last, "head mismatch: hash differs from last entry")
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("audit: verify: %w", err)
	}
	rep.OK = true
	return rep, nil
}

var errStop = errors.New("stop")

func getRecord(txn *badger.Txn, key string, v any) error {
	item, err := txn.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		if key == keyAnchor {
			return nil // no anchor: the chain starts at seq 1
		}
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	b, err := item.ValueCopy(nil)
	if err != nil {
		return err
	}
	return store.Decode(b, v)
}

// pruneChunk is how many entries one Prune transaction removes.
const pruneChunk = 1000

// Prune deletes the entries older than olderThan, with their index keys, and
// moves the retention anchor to the last deleted entry so Verify still
// succeeds from the new start. Each chunk of deletions and its anchor move
// commit together. When it deleted anything, Prune records an "audit.prune"
// entry (count, cutoff, new anchor) on the chain. Retention is unlimited
// unless the caller prunes.
func (l *Log) Prune(ctx context.Context, olderThan time.Time) (int, error) {
	l.pruneMu.Lock()
	defer l.pruneMu.Unlock()
	total, anchorSeq, err := l.prune(ctx, olderThan)
	if total > 0 {
		outcome := OutcomeSuccess
		details := map[string]any{"count": total, "before": olderThan.UTC().Format(time.RFC3339Nano), "anchor": anchorSeq}
		if err != nil {
			outcome = OutcomeError
			details["error"] = err.Error()
		}
		if _, aerr := l.Append(ctx, Entry{Actor: "audit", ActorKind: ActorSystem, Action: "audit.prune",
			ResourceType: "audit", ResourceID: "retention", Outcome: outcome, Details: details}); aerr != nil && err == nil {
			err = fmt.Errorf("audit: prune: record: %w", aerr)
		}
	}
	return total, err
}

func (l *Log) prune(ctx context.Context, olderThan time.Time) (total int, anchorSeq uint64, _ error) {
	for {
		var ops []store.Op
		var anchor chainPoint
		n := 0
		err := l.st.DB().View(func(txn *badger.Txn) error {
			o := badger.DefaultIteratorOptions
			o.Prefix = []byte(prefixEntry)
			it := txn.NewIterator(o)
			defer it.Close()
			for it.Seek(o.Prefix); it.ValidForPrefix(o.Prefix) && n < pruneChunk; it.Next() {
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				e, err := decodeEntry(v)
				if err != nil {
					return err
				}
				if !e.Time.Before(olderThan) {
					break
				}
				ops = append(ops, store.Delete(entryKey(e.Seq)))
				for _, k := range indexKeys(&e) {
					ops = append(ops, store.Delete(k))
				}
				anchor = chainPoint{Seq: e.Seq, Hash: e.Hash}
				n++
			}
			return nil
		})
		if err != nil {
			return total, anchorSeq, fmt.Errorf("audit: prune: %w", err)
		}
		if len(ops) == 0 {
			return total, anchorSeq, nil
		}
		ops = append(ops, store.Put(keyAnchor, store.MustEncode(anchor)))
		if err := l.st.Apply(ctx, ops...); err != nil {
			return total, anchorSeq, fmt.Errorf("audit: prune: %w", err)
		}
		total += n
		anchorSeq = anchor.Seq
		l.opts.Logger.Info("audit entries pruned", "count", n, "anchor", anchor.Seq)
	}
}

// RunRetention prunes entries older than keep once at start and then every
// interval until ctx ends. keep <= 0 means unlimited retention: it returns at
// once. Errors are logged and retried at the next interval.
func (l *Log) RunRetention(ctx context.Context, keep, every time.Duration) {
	if keep <= 0 {
		return
	}
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := l.Prune(ctx, l.opts.Now().Add(-keep)); err != nil {
			if ctx.Err() != nil {
				return
			}
			l.opts.Logger.Error("audit retention", "err", err)
		} else if n > 0 {
			l.opts.Logger.Info("audit retention pruned entries", "count", n, "keep", keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
