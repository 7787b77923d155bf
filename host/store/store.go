// Package store is Heady's embedded state: a Badger database under the data
// directory, organised in prefixed key spaces with versioned record encoding.
//
// Every change to replicated state goes through Apply, a single path of typed
// operations that are batched and group-committed by one writer goroutine.
// This is the seam where a consensus log can later sit in front of the state
// machine without touching the engines. Reads go straight to Badger.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Key spaces. Every key starts with one of these prefixes.
const (
	SpaceMeta      = "meta/"
	SpaceAudit     = "audit/"
	SpaceToken     = "token/"
	SpaceEvent     = "event/"
	SpaceExec      = "exec/"
	SpaceExecIndex = "execidx/"
	SpaceSchedule  = "sched/"
	SpacePolicy    = "policy/"
	SpaceMetric    = "metric/"
	SpaceRegistry  = "registry/"
	SpacePluginKV  = "pluginkv/"
	SpaceHealth    = "health/"
	SpaceScaling   = "scaling/"
	SpaceDiscovery = "discovery/"
	SpaceIntel     = "intel/"
)

// ErrNotFound is returned by Get when a key does not exist.
var ErrNotFound = errors.New("not found")

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("store closed")

// OpKind is the kind of one operation in an Apply batch.
type OpKind uint8

// Operation kinds.
const (
	OpPut OpKind = iota + 1
	OpDelete
)

// Op is one typed state change. Ops are plain data so that they can be
// serialised into a replicated log.
type Op struct {
	Kind  OpKind
	Key   []byte
	Value []byte
	// TTL, when non-zero, makes the key expire (metrics samples).
	TTL time.Duration
}

// Put builds a put operation.
func Put(key string, value []byte) Op { return Op{Kind: OpPut, Key: []byte(key), Value: value} }

// PutTTL builds a put operation whose key expires after ttl.
func PutTTL(key string, value []byte, ttl time.Duration) Op {
	return Op{Kind: OpPut, Key: []byte(key), Value: value, TTL: ttl}
}

// Delete builds a delete operation.
func Delete(key string) Op { return Op{Kind: OpDelete, Key: []byte(key)} }

// Options configure Open.
type Options struct {
	// SyncWrites makes Apply return only after the batch is fsynced
	// (group commit: many callers share one sync).
	SyncWrites bool
	// InMemory runs Badger without a directory (benchmarks and unit tests).
	InMemory bool
	Logger   *slog.Logger
	// MaxBatch caps the operations committed in one transaction.
	MaxBatch int
}

// Store is the handle on the embedded database.
type Store struct {
	db     *badger.DB
	dir    string
	opts   Options
	reqs   chan *applyReq
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool
	// hooks run after each committed batch, in the writer goroutine.
	hooksMu sync.RWMutex
	hooks   []hook
	hookN   int
	// repl, when set, receives every group-committed batch instead of the
	// local write (cluster mode); see SetReplicator.
	repl Replicator
}

// ErrNotLeader is returned by a Replicator when this server cannot accept
// writes because it is not (or no longer) the cluster leader and no leader
// is reachable.
var ErrNotLeader = errors.New("store: not the cluster leader")

// Replicator carries group-committed batches through a replicated log. In
// cluster mode the writer hands each batch to Replicate instead of writing
// Badger; the replicated state machine then calls ApplyLocal on every
// server, this one included. Replicate returns one error per request (nil
// slice: all succeeded) or an error for the whole batch.
type Replicator interface {
	Replicate(ctx context.Context, reqs [][]Op) ([]error, error)
}

// SetReplicator installs r; call it before the first Apply. A store
// without a replicator writes locally exactly as before.
func (s *Store) SetReplicator(r Replicator) {
	s.mu.Lock()
	s.repl = r
	s.mu.Unlock()
}

// ApplyLocal writes requests to this server's Badger and runs the commit
// hooks, bypassing the replicator: it is the replicated state machine's
// apply path and must not be used for anything else. It returns one error
// per request.
func (s *Store) ApplyLocal(reqs [][]Op) []error {
	batch := make([]*applyReq, len(reqs))
	for i, ops := range reqs {
		batch[i] = &applyReq{ops: ops}
	}
	errs := s.writeBatch(batch)
	for i, r := range batch {
		if errs[i] == nil {
			s.runHooks(r.ops)
		}
	}
	return errs
}

func (s *Store) runHooks(ops []Op) {
	s.hooksMu.RLock()
	for _, h := range s.hooks {
		h.fn(ops)
	}
	s.hooksMu.RUnlock()
}

type applyReq struct {
	ops  []Op
	errc chan error
}

// Open opens (or creates) the database in dir/db. A directory held by another
// running process is reported with that process's pid; a corrupt or unreadable
// database is reported and never wiped.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 4096
	}
	var bopts badger.Options
	dbDir := filepath.Join(dir, "db")
	if opts.InMemory {
		bopts = badger.DefaultOptions("").WithInMemory(true)
	} else {
		if err := os.MkdirAll(dbDir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create data directory %s: %w", dir, err)
		}
		if err := checkReadable(dbDir); err != nil {
			return nil, err
		}
		bopts = badger.DefaultOptions(dbDir)
	}
	bopts = bopts.WithLogger(badgerLogger{opts.Logger}).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		// Memory: Badger's defaults (five 64 MiB memtables, a 256 MiB
		// block cache) suit a dedicated database server. Table builders
		// keep buffers as large as a memtable in a pool of eight, so the
		// memtable size bounds much of the heap under write load; 8 MiB
		// keeps a busy host's heap in the low hundreds of MiB. A single
		// Apply may then carry about 13,000 operations.
		WithMemTableSize(8 << 20).
		WithNumMemtables(3).
		WithBlockCacheSize(64 << 20).
		WithValueThreshold(1 << 10).
		WithNumCompactors(2).
		WithCompactL0OnClose(false)
	db, err := badger.Open(bopts)
	if err != nil {
		return nil, describeOpenError(dir, dbDir, err)
	}
	s := &Store{db: db, dir: dir, opts: opts, reqs: make(chan *applyReq, 1024), done: make(chan struct{})}
	if !opts.InMemory {
		_ = os.WriteFile(filepath.Join(dir, "heady.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	}
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

func checkReadable(dbDir string) error {
	f, err := os.Open(dbDir)
	if err != nil {
		return fmt.Errorf("store: data directory %s is not readable: %w", dbDir, err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != nil && !errors.Is(err, os.ErrNotExist) && err.Error() != "EOF" {
		return fmt.Errorf("store: data directory %s is not readable: %w", dbDir, err)
	}
	return nil
}

func describeOpenError(dir, dbDir string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Cannot acquire directory lock") || strings.Contains(msg, "resource temporarily unavailable") {
		holder := "another process"
		if b, rerr := os.ReadFile(filepath.Join(dir, "heady.pid")); rerr == nil {
			holder = "another heady (pid " + strings.TrimSpace(string(b)) + ")"
		}
		return fmt.Errorf("store: data directory %s is in use by %s; stop it or choose another --data: %w", dir, holder, err)
	}
	return fmt.Errorf("store: cannot open database in %s (left untouched; restore from a backup or move it aside): %w", dbDir, err)
}

// DB exposes the underlying Badger handle for read paths and maintenance
// (backups, value-log GC). Writes to replicated state must use Apply.
func (s *Store) DB() *badger.DB { return s.db }

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

// OnCommit registers fn to observe every committed batch and returns a
// function that removes it again. fn runs in the writer goroutine and must
// not block or call Apply.
func (s *Store) OnCommit(fn func([]Op)) (remove func()) {
	s.hooksMu.Lock()
	s.hookN++
	id := s.hookN
	s.hooks = append(s.hooks, hook{id: id, fn: fn})
	s.hooksMu.Unlock()
	return func() {
		s.hooksMu.Lock()
		defer s.hooksMu.Unlock()
		for i, h := range s.hooks {
			if h.id == id {
				s.hooks = append(s.hooks[:i:i], s.hooks[i+1:]...)
				return
			}
		}
	}
}

// hook is one OnCommit observer.
type hook struct {
	id int
	fn func([]Op)
}

// Apply commits ops atomically with respect to each other (they land in one
// transaction) and returns once they are durable to the configured level.
// Concurrent callers are group-committed.
func (s *Store) Apply(ctx context.Context, ops ...Op) error {
	if len(ops) == 0 {
		return nil
	}
	req := &applyReq{ops: ops, errc: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	// Once queued the batch will be committed; wait for the outcome even if
	// ctx ends so the caller never mistakes a committed write for a lost one.
	return <-req.errc
}

func (s *Store) writer() {
	defer s.wg.Done()
	for {
		first, ok := <-s.reqs
		if !ok {
			return
		}
		batch := []*applyReq{first}
		n := len(first.ops)
	drain:
		for n < s.opts.MaxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				n += len(r.ops)
			default:
				break drain
			}
		}
		if s.repl != nil {
			s.replicate(batch)
			continue
		}
		s.commit(batch)
	}
}

func (s *Store) replicate(batch []*applyReq) {
	reqs := make([][]Op, len(batch))
	for i, r := range batch {
		reqs[i] = r.ops
	}
	errs, err := s.repl.Replicate(context.Background(), reqs)
	for i, r := range batch {
		e := err
		if e == nil && i < len(errs) {
			e = errs[i]
		}
		r.errc <- e
	}
}

func (s *Store) commit(batch []*applyReq) {
	errs := s.writeBatch(batch)
	var syncErr error
	if s.opts.SyncWrites && !s.opts.InMemory {
		syncErr = s.db.Sync()
	}
	for i, r := range batch {
		err := errs[i]
		if err == nil && syncErr != nil {
			err = fmt.Errorf("store: sync: %w", syncErr)
		}
		if err == nil {
			s.runHooks(r.ops)
		}
		r.errc <- err
	}
}

// writeBatch writes the requests in as few transactions as Badger allows,
// never splitting one request across transactions, and returns one error
// per request.
func (s *Store) writeBatch(batch []*applyReq) []error {
	errs := make([]error, len(batch))
	for start := 0; start < len(batch); {
		txn := s.db.NewTransaction(true)
		end := start
		var failed error
		for ; end < len(batch); end++ {
			if err := applyOps(txn, batch[end].ops); err != nil {
				failed = err
				break
			}
		}
		if failed == nil {
			setAll(errs[start:end], commitTxn(txn))
			return errs
		}
		// Request end did not fit (or failed): the transaction may hold a
		// part of it, so rebuild the ones before it and commit them alone.
		txn.Discard()
		if end > start {
			txn = s.db.NewTransaction(true)
			var err error
			for i := start; i < end && err == nil; i++ {
				err = applyOps(txn, batch[i].ops)
			}
			if err == nil {
				err = commitTxn(txn)
			} else {
				txn.Discard()
			}
			setAll(errs[start:end], err)
		}
		if errors.Is(failed, badger.ErrTxnTooBig) && end > start {
			start = end // retry it at the head of a fresh transaction
			continue
		}
		errs[end] = fmt.Errorf("store: apply: %w", failed)
		start = end + 1
	}
	return errs
}

func commitTxn(txn *badger.Txn) error {
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func setAll(errs []error, err error) {
	for i := range errs {
		errs[i] = err
	}
}

func applyOps(txn *badger.Txn, ops []Op) error {
	for _, op := range ops {
		var err error
		switch op.Kind {
		case OpPut:
			e := badger.NewEntry(op.Key, op.Value)
			if op.TTL > 0 {
				e = e.WithTTL(op.TTL)
			}
			err = txn.SetEntry(e)
		case OpDelete:
			err = txn.Delete(op.Key)
		default:
			err = fmt.Errorf("unknown op kind %d", op.Kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Get reads one key.
func (s *Store) Get(key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		out, err = item.ValueCopy(nil)
		return err
	})
	return out, err
}

// ScanOptions select a range of keys within a prefix.
type ScanOptions struct {
	Prefix string
	// After starts strictly after this key (cursor pagination). Empty starts
	// at the beginning (or the end when Reverse).
	After    string
	Reverse  bool
	Limit    int
	KeysOnly bool
}

// Scan calls fn for each key in the range, in key order (or reverse). fn
// returning false stops the scan. The value slice is only valid during fn.
func (s *Store) Scan(o ScanOptions, fn func(key string, value []byte) (bool, error)) error {
	return s.db.View(func(txn *badger.Txn) error {
		io := badger.DefaultIteratorOptions
		io.Prefix = []byte(o.Prefix)
		io.Reverse = o.Reverse
		io.PrefetchValues = !o.KeysOnly
		it := txn.NewIterator(io)
		defer it.Close()
		var start []byte
		switch {
		case o.After != "":
			start = []byte(o.After)
		case o.Reverse:
			start = append([]byte(o.Prefix), 0xff, 0xff, 0xff, 0xff)
		default:
			start = []byte(o.Prefix)
		}
		n := 0
		for it.Seek(start); it.ValidForPrefix(io.Prefix); it.Next() {
			item := it.Item()
			if o.After != "" && bytes.Equal(item.Key(), start) {
				continue
			}
			var val []byte
			if !o.KeysOnly {
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				val = v
			}
			more, err := fn(string(item.KeyCopy(nil)), val)
			if err != nil {
				return err
			}
			n++
			if !more || (o.Limit > 0 && n >= o.Limit) {
				return nil
			}
		}
		return nil
	})
}

// Close stops the writer after draining queued batches and closes Badger.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	s.wg.Wait()
	err := s.db.Close()
	if !s.opts.InMemory {
		_ = os.Remove(filepath.Join(s.dir, "heady.pid"))
	}
	return err
}

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
}
func (b badgerLogger) Debugf(f string, a ...any) {}
