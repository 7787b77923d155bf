package audit

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/heady-dev/heady/host/store"
)

// Key prefixes and records.
const (
	prefixEntry    = store.SpaceAudit + "e/"
	prefixResource = store.SpaceAudit + "r/"
	prefixActor    = store.SpaceAudit + "a/"
	prefixSecurity = store.SpaceAudit + "s/"
	keyHead        = store.SpaceMeta + "audit/head"
	keyAnchor      = store.SpaceMeta + "audit/anchor"
)

// MaxDetailsBytes limits the encoded Details of one entry.
const MaxDetailsBytes = 256 << 10

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit: log closed")

// Options configure Open.
type Options struct {
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// MaxBatch caps the entries committed in one store.Apply; default 512.
	MaxBatch int
	// MaxBatchBytes caps the approximate size of one batch (keeping each
	// store transaction well below Badger's limit); default 1 MiB.
	MaxBatchBytes int
	// Queue is the capacity of the append queue; default 4096.
	Queue  int
	Logger *slog.Logger
}

// Log is the audit trail.
type Log struct {
	st   *store.Store
	opts Options

	reqs chan *appendReq
	done chan struct{}

	closeMu sync.RWMutex
	closed  bool
	pruneMu sync.Mutex

	// head is owned by the sequencer goroutine after Open.
	headMu   sync.Mutex
	head     chainPoint
	lastTime time.Time
	lastMs   uint64
	entropy  *ulid.MonotonicEntropy
}

// chainPoint is the {seq, hash} record used for the head and the anchor.
type chainPoint struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

type appendReq struct {
	e       Entry
	details json.RawMessage // canonical Details, encoded by the caller
	resc    chan appendRes  // nil for AppendAsync
}

// size approximates the bytes an entry adds to a transaction.
func (r *appendReq) size() int {
	e := &r.e
	return 400 + len(r.details) + 2*(len(e.Actor)+len(e.ResourceType)+len(e.ResourceID)) +
		len(e.Action) + len(e.Source) + len(e.RequestID) + len(e.ActorKind) + len(e.Outcome)
}

type appendRes struct {
	e   Entry
	err error
}

// Open loads the chain head and starts the sequencer. Close stops it.
func Open(ctx context.Context, st *store.Store, opts Options) (*Log, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = 1 << 20
	}
	if opts.Queue <= 0 {
		opts.Queue = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l := &Log{st: st, opts: opts, reqs: make(chan *appendReq, opts.Queue), done: make(chan struct{}),
		entropy: ulid.Monotonic(rand.Reader, 0)}
	head, err := l.loadHead()
	if err != nil {
		return nil, err
	}
	l.head = head
	if head.Seq > 0 {
		if e, err := l.get(head.Seq); err == nil {
			l.lastTime = e.Time
			l.lastMs = ulid.Timestamp(e.Time)
		}
	}
	go l.sequencer()
	return l, nil
}

// loadHead returns the point new entries chain from: the head record, or the
// last stored entry if that is further (a missing head record must never make
// the log reuse sequence numbers), or the anchor when everything was pruned.
func (l *Log) loadHead() (chainPoint, error) {
	var head chainPoint
	if err := l.st.GetRecord(keyHead, &head); err != nil && !errors.Is(err, store.ErrNotFound) {
		return head, fmt.Errorf("audit: open: read head: %w", err)
	}
	var anchor chainPoint
	if err := l.st.GetRecord(keyAnchor, &anchor); err != nil && !errors.Is(err, store.ErrNotFound) {
		return head, fmt.Errorf("audit: open: read anchor: %w", err)
	}
	if anchor.Seq > head.Seq {
		head = anchor
	}
	var last *Entry
	err := l.st.Scan(store.ScanOptions{Prefix: prefixEntry, Reverse: true, Limit: 1}, func(_ string, v []byte) (bool, error) {
		e, err := decodeEntry(v)
		if err != nil {
			return false, err
		}
		last = &e
		return false, nil
	})
	if err != nil {
		return head, fmt.Errorf("audit: open: read last entry: %w", err)
	}
	if last != nil && last.Seq > head.Seq {
		l.opts.Logger.Warn("audit head record behind last entry; continuing after the entry", "head", head.Seq, "last", last.Seq)
		head = chainPoint{Seq: last.Seq, Hash: last.Hash}
	}
	return head, nil
}

// Head returns the seq and hash of the last committed entry.
func (l *Log) Head() (seq uint64, hash string) {
	l.headMu.Lock()
	defer l.headMu.Unlock()
	return l.head.Seq, l.head.Hash
}

// Append records e and returns it as committed (with Seq, ID, Time, PrevHash
// and Hash set) once it is durable to the store's configured level. Seq, ID,
// Time, PrevHash and Hash given by the caller are ignored. If ctx ends
// before the entry is queued, Append returns ctx.Err() and nothing is
// written; once queued, Append waits for the commit outcome.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	req := &appendReq{e: e, resc: make(chan appendRes, 1)}
	if err := l.enqueue(ctx, req); err != nil {
		return Entry{}, err
	}
	res := <-req.resc
	return res.e, res.err
}

// AppendAsync queues e without waiting for the commit (fire-and-forget
// system events). Commit errors are logged. It blocks only while the queue
// is full or until ctx ends.
func (l *Log) AppendAsync(ctx context.Context, e Entry) error {
	return l.enqueue(ctx, &appendReq{e: e})
}

func (l *Log) enqueue(ctx context.Context, req *appendReq) error {
	if req.e.Action == "" {
		return fmt.Errorf("audit: append: action is required")
	}
	if err := normalize(&req.e); err != nil {
		return fmt.Errorf("audit: append %s: %w", req.e.Action, err)
	}
	var err error
	if req.details, err = detailsJSON(req.e.Details); err != nil {
		return fmt.Errorf("audit: append %s: %w", req.e.Action, err)
	}
	if len(req.details) > MaxDetailsBytes {
		return fmt.Errorf("audit: append %s: details are %d bytes encoded, limit %d", req.e.Action, len(req.details), MaxDetailsBytes)
	}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	select {
	case l.reqs <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting entries, commits those already queued and stops the
// sequencer. Close the Log before the store.
func (l *Log) Close() error {
	l.closeMu.Lock()
	if l.closed {
		l.closeMu.Unlock()
		return nil
	}
	l.closed = true
	close(l.reqs)
	l.closeMu.Unlock()
	<-l.done
	return nil
}

func (l *Log) sequencer() {
	defer close(l.done)
	batch := make([]*appendReq, 0, l.opts.MaxBatch)
	var carry *appendReq // did not fit the previous batch
	for {
		first := carry
		carry = nil
		if first == nil {
			r, ok := <-l.reqs
			if !ok {
				return
			}
			first = r
		}
		batch = append(batch[:0], first)
		size := first.size()
	drain:
		for len(batch) < l.opts.MaxBatch && size < l.opts.MaxBatchBytes {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break drain
				}
				if size+r.size() > l.opts.MaxBatchBytes {
					carry = r
					break drain
				}
				batch = append(batch, r)
				size += r.size()
			default:
				break drain
			}
		}
		l.commit(batch)
	}
}

// commit seals the batch onto the chain and writes it in one Apply. On
// failure the head does not move, so the next batch chains from the last
// committed entry.
func (l *Log) commit(batch []*appendReq) {
	l.headMu.Lock()
	prev := l.head
	lastTime, lastMs := l.lastTime, l.lastMs
	l.headMu.Unlock()

	ops := make([]store.Op, 0, len(batch)*3+1)
	var err error
	for _, r := range batch {
		e := &r.e
		now := l.opts.Now().UTC().Round(0)
		if now.Before(lastTime) {
			now = lastTime
		}
		lastTime = now
		ms := ulid.Timestamp(now)
		if ms < lastMs {
			ms = lastMs
		}
		lastMs = ms
		id, ierr := ulid.New(ms, l.entropy)
		if ierr != nil {
			// Monotonic entropy overflow within one millisecond: move on a ms.
			lastMs++
			id, ierr = ulid.New(lastMs, l.entropy)
			if ierr != nil {
				err = fmt.Errorf("audit: id: %w", ierr)
				break
			}
		}
		e.Seq = prev.Seq + 1
		e.ID = id.String()
		e.Time = now
		e.PrevHash = prev.Hash
		if e.Hash, err = hashWith(e, r.details); err != nil {
			break
		}
		var rec []byte
		if rec, err = encodeWith(e, r.details); err != nil {
			break
		}
		ops = append(ops, store.Put(entryKey(e.Seq), rec))
		ops = append(ops, indexOps(e)...)
		prev = chainPoint{Seq: e.Seq, Hash: e.Hash}
	}
	if err == nil {
		ops = append(ops, store.Put(keyHead, store.MustEncode(prev)))
		err = l.st.Apply(context.Background(), ops...)
		if err != nil {
			err = fmt.Errorf("audit: commit: %w", err)
		}
	}
	if err == nil {
		l.headMu.Lock()
		l.head = prev
		l.lastTime, l.lastMs = lastTime, lastMs
		l.headMu.Unlock()
	}
	for _, r := range batch {
		res := appendRes{err: err}
		if err == nil {
			res.e = r.e
		}
		if r.resc != nil {
			r.resc <- res
		} else if err != nil {
			l.opts.Logger.Error("audit: asynchronous append lost", "action", r.e.Action, "err", err)
		}
	}
}

func indexOps(e *Entry) []store.Op {
	var ops []store.Op
	seq := seqString(e.Seq)
	if e.ResourceType != "" {
		ops = append(ops, store.Put(resourcePrefix(e.ResourceType, e.ResourceID)+seq, nil))
	}
	if e.Actor != "" {
		ops = append(ops, store.Put(actorPrefix(e.Actor)+seq, nil))
	}
	if e.Security {
		ops = append(ops, store.Put(prefixSecurity+seq, nil))
	}
	return ops
}

func indexKeys(e *Entry) []string {
	ops := indexOps(e)
	keys := make([]string, len(ops))
	for i, op := range ops {
		keys[i] = string(op.Key)
	}
	return keys
}

func seqString(seq uint64) string { return fmt.Sprintf("%020d", seq) }

func entryKey(seq uint64) string { return prefixEntry + seqString(seq) }

func resourcePrefix(typ, id string) string {
	return prefixResource + url.PathEscape(typ) + "/" + url.PathEscape(id) + "/"
}

func actorPrefix(actor string) string { return prefixActor + url.PathEscape(actor) + "/" }

// seqFromKey parses the trailing 20-digit seq of an entry or index key.
func seqFromKey(key string) (uint64, bool) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 || len(key)-i-1 != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(key[i+1:], 10, 64)
	return n, err == nil
}

func (l *Log) get(seq uint64) (Entry, error) {
	b, err := l.st.Get(entryKey(seq))
	if err != nil {
		return Entry{}, err
	}
	return decodeEntry(b)
}

// Get returns the entry with the given seq (store.ErrNotFound if absent).
func (l *Log) Get(ctx context.Context, seq uint64) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	e, err := l.get(seq)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: get %d: %w", seq, err)
	}
	return e, nil
}
