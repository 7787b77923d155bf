package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Page sizes for List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Filter selects entries for List and Export. Zero fields match everything.
type Filter struct {
	Actor string
	// Action matches exactly, or as a prefix when it ends with "."
	// ("workflow." matches "workflow.execute").
	Action       string
	ResourceType string
	ResourceID   string
	Outcome      string
	Security     *bool
	// Since is inclusive, Until exclusive.
	Since, Until time.Time
	// Cursor is the next value returned by the previous page.
	Cursor string
	// Limit defaults to DefaultLimit and is capped at MaxLimit (Export
	// ignores it and returns every match).
	Limit int
	// Asc lists oldest first; the default is newest first.
	Asc bool
}

func (f *Filter) match(e *Entry) bool {
	if f.Actor != "" && e.Actor != f.Actor {
		return false
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			if !strings.HasPrefix(e.Action, f.Action) {
				return false
			}
		} else if e.Action != f.Action {
			return false
		}
	}
	if f.ResourceType != "" && e.ResourceType != f.ResourceType {
		return false
	}
	if f.ResourceID != "" && e.ResourceID != f.ResourceID {
		return false
	}
	if f.Outcome != "" && e.Outcome != f.Outcome {
		return false
	}
	if f.Security != nil && e.Security != *f.Security {
		return false
	}
	return true
}

// ErrBadCursor is returned for a cursor List did not produce.
var ErrBadCursor = errors.New("audit: invalid cursor")

// List returns one page of matching entries, newest first unless f.Asc, and
// the cursor of the next page ("" when there is none). It walks the most
// selective index the filter allows (resource, actor, security) and narrows
// time ranges by binary search over the chain, whose times never decrease.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if limit > MaxLimit {
		limit = MaxLimit
	}
	var out []Entry
	next := ""
	err := l.st.DB().View(func(txn *badger.Txn) error {
		lo, hi, ok, err := bounds(txn, &f)
		if err != nil || !ok {
			return err
		}
		return walk(ctx, txn, &f, lo, hi, func(e *Entry) bool {
			if len(out) == limit {
				next = strconv.FormatUint(out[len(out)-1].Seq, 10)
				return false
			}
			out = append(out, *e)
			return true
		})
	})
	if err != nil {
		return nil, "", fmt.Errorf("audit: list: %w", err)
	}
	return out, next, nil
}

// Trail lists the entries about one resource, newest first.
func (l *Log) Trail(ctx context.Context, resourceType, resourceID, cursor string, limit int) ([]Entry, string, error) {
	return l.List(ctx, Filter{ResourceType: resourceType, ResourceID: resourceID, Cursor: cursor, Limit: limit})
}

// Export writes every entry matching f (ignoring f.Limit) as JSON lines.
func (l *Log) Export(ctx context.Context, w io.Writer, f Filter) error {
	f.Limit = MaxLimit
	enc := json.NewEncoder(w)
	for {
		page, next, err := l.List(ctx, f)
		if err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		for i := range page {
			if err := enc.Encode(&page[i]); err != nil {
				return fmt.Errorf("audit: export: write: %w", err)
			}
		}
		if next == "" {
			return nil
		}
		f.Cursor = next
	}
}

// Stats are counts over a time range.
type Stats struct {
	Since     time.Time      `json:"since,omitzero"`
	Until     time.Time      `json:"until,omitzero"`
	Total     int            `json:"total"`
	Security  int            `json:"security"`
	ByAction  map[string]int `json:"by_action"`
	ByActor   map[string]int `json:"by_actor"`
	ByOutcome map[string]int `json:"by_outcome"`
	// ByHour is keyed by the UTC hour, "2006-01-02T15:00Z".
	ByHour map[string]int `json:"by_hour"`
}

// Statistics counts the entries with since <= time < until (zero bounds are open).
func (l *Log) Statistics(ctx context.Context, since, until time.Time) (Stats, error) {
	s := Stats{Since: since, Until: until, ByAction: map[string]int{}, ByActor: map[string]int{},
		ByOutcome: map[string]int{}, ByHour: map[string]int{}}
	f := Filter{Since: since, Until: until, Asc: true}
	err := l.st.DB().View(func(txn *badger.Txn) error {
		lo, hi, ok, err := bounds(txn, &f)
		if err != nil || !ok {
			return err
		}
		return walk(ctx, txn, &f, lo, hi, func(e *Entry) bool {
			s.Total++
			s.ByAction[e.Action]++
			s.ByActor[e.Actor]++
			s.ByOutcome[e.Outcome]++
			s.ByHour[e.Time.UTC().Format("2006-01-02T15:00Z")]++
			if e.Security {
				s.Security++
			}
			return true
		})
	})
	if err != nil {
		return Stats{}, fmt.Errorf("audit: statistics: %w", err)
	}
	return s, nil
}

// bounds resolves the seq range [lo, hi] a filter covers, from the chain's
// first and last entries, the time range and the cursor. ok is false when
// the range is empty.
func bounds(txn *badger.Txn, f *Filter) (lo, hi uint64, ok bool, err error) {
	first, last, ok, err := extent(txn)
	if err != nil || !ok {
		return 0, 0, false, err
	}
	lo, hi = first, last
	if !f.Since.IsZero() {
		s, err := searchTime(txn, lo, hi+1, f.Since)
		if err != nil {
			return 0, 0, false, err
		}
		lo = s
	}
	if !f.Until.IsZero() {
		u, err := searchTime(txn, lo, hi+1, f.Until)
		if err != nil {
			return 0, 0, false, err
		}
		if u == 0 {
			return 0, 0, false, nil
		}
		hi = u - 1
	}
	if f.Cursor != "" {
		c, err := strconv.ParseUint(f.Cursor, 10, 64)
		if err != nil {
			return 0, 0, false, ErrBadCursor
		}
		if f.Asc {
			lo = max(lo, c+1)
		} else {
			if c == 0 {
				return 0, 0, false, nil
			}
			hi = min(hi, c-1)
		}
	}
	return lo, hi, lo <= hi, nil
}

// extent returns the first and last seq present in the entry space.
func extent(txn *badger.Txn) (first, last uint64, ok bool, err error) {
	for _, rev := range []bool{false, true} {
		o := badger.DefaultIteratorOptions
		o.Prefix, o.Reverse, o.PrefetchValues = []byte(prefixEntry), rev, false
		it := txn.NewIterator(o)
		if rev {
			it.Seek(append([]byte(prefixEntry), 0xff))
		} else {
			it.Seek(o.Prefix)
		}
		if !it.ValidForPrefix(o.Prefix) {
			it.Close()
			return 0, 0, false, nil
		}
		key := string(it.Item().Key())
		it.Close()
		seq, good := seqFromKey(key)
		if !good {
			return 0, 0, false, fmt.Errorf("malformed entry key %q", key)
		}
		if rev {
			last = seq
		} else {
			first = seq
		}
	}
	return first, last, true, nil
}

// searchTime returns the smallest seq in [lo, end) whose entry time is >= t,
// or end when there is none. Entry times never decrease along the chain.
// Missing seqs (a damaged chain) are harmless: the result is only used as a
// range bound, and a missing seq bounds the same set of entries as its
// successor.
func searchTime(txn *badger.Txn, lo, end uint64, t time.Time) (uint64, error) {
	for lo < end {
		mid := lo + (end-lo)/2
		e, found, err := entryAtOrAfter(txn, mid, end)
		if err != nil {
			return 0, err
		}
		if found && e.Time.Before(t) {
			lo = e.Seq + 1
		} else {
			end = mid
		}
	}
	return lo, nil
}

func entryAtOrAfter(txn *badger.Txn, seq, end uint64) (Entry, bool, error) {
	o := badger.DefaultIteratorOptions
	o.Prefix = []byte(prefixEntry)
	it := txn.NewIterator(o)
	defer it.Close()
	it.Seek([]byte(entryKey(seq)))
	if !it.ValidForPrefix(o.Prefix) {
		return Entry{}, false, nil
	}
	v, err := it.Item().ValueCopy(nil)
	if err != nil {
		return Entry{}, false, err
	}
	e, err := decodeEntry(v)
	if err != nil {
		return Entry{}, false, err
	}
	if e.Seq >= end {
		return Entry{}, false, nil
	}
	return e, true, nil
}

// walk visits the matching entries with lo <= seq <= hi in the filter's
// order until fn returns false, using the most selective index available.
func walk(ctx context.Context, txn *badger.Txn, f *Filter, lo, hi uint64, fn func(*Entry) bool) error {
	prefix := prefixEntry
	indexed := true
	switch {
	case f.ResourceType != "" && f.ResourceID != "":
		prefix = resourcePrefix(f.ResourceType, f.ResourceID)
	case f.Actor != "":
		prefix = actorPrefix(f.Actor)
	case f.Security != nil && *f.Security:
		prefix = prefixSecurity
	default:
		indexed = false
	}
	o := badger.DefaultIteratorOptions
	o.Prefix = []byte(prefix)
	o.Reverse = !f.Asc
	o.PrefetchValues = !indexed
	it := txn.NewIterator(o)
	defer it.Close()
	if f.Asc {
		it.Seek([]byte(prefix + seqString(lo)))
	} else {
		it.Seek([]byte(prefix + seqString(hi)))
	}
	n := 0
	for ; it.ValidForPrefix(o.Prefix); it.Next() {
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		item := it.Item()
		seq, ok := seqFromKey(string(item.Key()))
		if !ok {
			continue
		}
		if seq < lo || seq > hi {
			if (f.Asc && seq > hi) || (!f.Asc && seq < lo) {
				return nil
			}
			continue
		}
		var v []byte
		var err error
		if indexed {
			ei, gerr := txn.Get([]byte(entryKey(seq)))
			if errors.Is(gerr, badger.ErrKeyNotFound) {
				continue // entry pruned or removed; Verify reports removals
			}
			if gerr != nil {
				return gerr
			}
			v, err = ei.ValueCopy(nil)
		} else {
			v, err = item.ValueCopy(nil)
		}
		if err != nil {
			return err
		}
		e, err := decodeEntry(v)
		if err != nil {
			return err
		}
		if !f.match(&e) {
			continue
		}
		if !fn(&e) {
			return nil
		}
	}
	return nil
}
