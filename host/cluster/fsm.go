package cluster

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/heady-dev/heady/host/store"
)

// fsm is the replicated state machine: it applies each committed batch to
// this server's Badger through store.ApplyLocal, and snapshots and restores
// with Badger's own backup stream.
type fsm struct {
	st      *store.Store
	applied atomic.Uint64
	mu      sync.Mutex
	cond    *sync.Cond
	batches atomic.Uint64
	ops     atomic.Uint64
}

func newFSM(st *store.Store) *fsm {
	f := &fsm{st: st}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// applyResult is the FSM's response for one log entry: one error per request.
type applyResult struct {
	errs []error
	err  error
}

func (f *fsm) Apply(l *raft.Log) any {
	defer f.advance(l.Index)
	if l.Type != raft.LogCommand {
		return nil
	}
	reqs, err := decodeBatch(l.Data)
	if err != nil {
		return applyResult{err: err}
	}
	errs := f.st.ApplyLocal(reqs)
	f.batches.Add(1)
	for _, r := range reqs {
		f.ops.Add(uint64(len(r)))
	}
	return applyResult{errs: errs}
}

func (f *fsm) advance(idx uint64) {
	f.mu.Lock()
	if idx > f.applied.Load() {
		f.applied.Store(idx)
	}
	f.cond.Broadcast()
	f.mu.Unlock()
}

// waitApplied blocks until index idx is applied locally or done is closed.
func (f *fsm) waitApplied(idx uint64, done <-chan struct{}) bool {
	if f.applied.Load() >= idx {
		return true
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-done:
		case <-stop:
			return
		}
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	}()
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.applied.Load() < idx {
		select {
		case <-done:
			return false
		default:
		}
		f.cond.Wait()
	}
	return true
}

// Snapshot is called in the FSM goroutine; Persist then streams Badger's
// backup concurrently with later applies. A backup taken a little after the
// snapshot index is still correct: replaying the log from that index is a
// sequence of puts and deletes that converges on the same state.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{st: f.st}, nil
}

func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db := f.st.DB()
	if err := db.DropAll(); err != nil {
		return fmt.Errorf("cluster: restore: drop: %w", err)
	}
	if err := db.Load(rc, 256); err != nil {
		return fmt.Errorf("cluster: restore: load: %w", err)
	}
	return nil
}

type snapshot struct{ st *store.Store }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.st.DB().Backup(sink, 0); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("cluster: snapshot: %w", err)
	}
	return sink.Close()
}

func (s *snapshot) Release() {}

var errNoResult = errors.New("cluster: apply: no result")
