package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"
)

// Work distribution. The leader's workflow engine hands every plugin step
// call to a Queue instead of running it; workers — every server, and
// `heady agent --worker` nodes — claim calls with a long poll, heartbeat
// while they run them, and complete them with the result. A worker that
// stops heartbeating loses its leases: the submitter sees ErrLeaseLost and
// hands the call out again, to another worker (at-least-once; the call
// keeps its idempotency key). A call with labels only goes to workers whose
// labels include all of them. The queue is in memory: if the leader dies,
// the new leader resumes the executions and re-runs interrupted steps.

// ErrLeaseLost is returned by Submit when the worker holding the call
// stopped heartbeating it.
var ErrLeaseLost = errors.New("cluster: lease lost: the worker stopped heartbeating")

// ErrQueueClosed is returned when the queue closed (leadership lost).
var ErrQueueClosed = errors.New("cluster: lease queue closed")

// ErrUnknownLease is returned by Complete for a lease the worker no longer
// holds.
var ErrUnknownLease = errors.New("cluster: unknown lease")

// MaxClaimWait bounds one claim's wait: shorter than any lease TTL, so an
// idle worker renews its presence before it could be taken for dead.
const MaxClaimWait = 2 * time.Second

// Task is one call handed out as a lease.
type Task struct {
	ID string `json:"id"`
	// Call is the step call, JSON (a workflow.ActionCall).
	Call     json.RawMessage   `json:"call"`
	Labels   map[string]string `json:"labels,omitempty"`
	Deadline time.Time         `json:"deadline,omitzero"`
}

// TaskResult is a worker's answer: the action's result (JSON of a
// workflow.ActionResult) or the error that kept the worker from running it.
type TaskResult struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Worker identifies a claiming worker.
type Worker struct {
	ID     string            `json:"id"`
	Labels map[string]string `json:"labels,omitempty"`
}

type lease struct {
	task   Task
	worker string
	// renewed is when the worker last vouched for this lease (claim or
	// heartbeat naming it); a lease not renewed within the TTL is lost,
	// even if its worker is otherwise alive (say, the claim's answer never
	// reached it).
	renewed time.Time
	done    chan TaskResult
	lost    chan error
}

// waiter is a claim waiting for a call; Submit hands one over directly.
type waiter struct {
	w  Worker
	ch chan Task
}

type workerState struct {
	Worker
	seen time.Time
}

// Queue is the leader's lease queue.
type Queue struct {
	ttl     time.Duration
	now     func() time.Time
	mu      sync.Mutex
	pending []*lease
	leased  map[string]*lease
	workers map[string]*workerState
	waiters []*waiter
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup
}

// NewQueue starts a queue whose leases expire ttl after their worker's
// last heartbeat.
func NewQueue(ttl time.Duration) *Queue {
	if ttl <= 0 {
		ttl = 5 * time.Second
	}
	q := &Queue{ttl: ttl, now: time.Now, leased: map[string]*lease{}, workers: map[string]*workerState{},
		done: make(chan struct{})}
	q.wg.Add(1)
	go q.reap()
	return q
}

// TTL is the lease time-to-live: workers heartbeat well within it.
func (q *Queue) TTL() time.Duration { return q.ttl }

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Submit hands call out and waits for its result, for ctx, or for the
// lease to be lost (ErrLeaseLost).
func (q *Queue) Submit(ctx context.Context, call json.RawMessage, labels map[string]string) (TaskResult, error) {
	l := &lease{task: Task{ID: newID(), Call: call, Labels: labels}, done: make(chan TaskResult, 1), lost: make(chan error, 1)}
	if d, ok := ctx.Deadline(); ok {
		l.task.Deadline = d
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return TaskResult{}, ErrQueueClosed
	}
	q.dispatch(l)
	q.mu.Unlock()
	select {
	case r := <-l.done:
		return r, nil
	case err := <-l.lost:
		return TaskResult{}, err
	case <-ctx.Done():
		q.mu.Lock()
		q.drop(l)
		q.mu.Unlock()
		return TaskResult{}, ctx.Err()
	}
}

// dispatch hands l to the longest-waiting matching claimer, or queues it;
// q.mu is held.
func (q *Queue) dispatch(l *lease) {
	for i, wt := range q.waiters {
		if !matches(l.task.Labels, wt.w.Labels) {
			continue
		}
		q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
		q.touch(wt.w)
		l.worker, l.renewed = wt.w.ID, q.now()
		q.leased[l.task.ID] = l
		wt.ch <- l.task
		return
	}
	q.pending = append(q.pending, l)
}

// removeWaiter reports whether wt was still waiting; q.mu is held.
func (q *Queue) removeWaiter(wt *waiter) bool {
	for i, x := range q.waiters {
		if x == wt {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// drop forgets l wherever it is; q.mu is held.
func (q *Queue) drop(l *lease) {
	delete(q.leased, l.task.ID)
	for i, p := range q.pending {
		if p == l {
			q.pending = append(q.pending[:i], q.pending[i+1:]...)
			return
		}
	}
}

func matches(want, have map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Claim leases up to max calls matching w's labels, waiting up to ctx for
// the first (which a Submit hands over directly, so one call wakes one
// claimer). Claiming counts as a heartbeat; workers keep each wait shorter
// than the TTL (see MaxClaimWait), or they are taken for dead.
func (q *Queue) Claim(ctx context.Context, w Worker, max int) ([]Task, error) {
	if max <= 0 {
		max = 1
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil, ErrQueueClosed
	}
	q.touch(w)
	var out []Task
	for i := 0; i < len(q.pending) && len(out) < max; {
		l := q.pending[i]
		if !matches(l.task.Labels, w.Labels) {
			i++
			continue
		}
		q.pending = append(q.pending[:i], q.pending[i+1:]...)
		l.worker, l.renewed = w.ID, q.now()
		q.leased[l.task.ID] = l
		out = append(out, l.task)
	}
	if len(out) > 0 {
		q.mu.Unlock()
		return out, nil
	}
	wt := &waiter{w: w, ch: make(chan Task, 1)}
	q.waiters = append(q.waiters, wt)
	q.mu.Unlock()
	select {
	case t := <-wt.ch:
		return []Task{t}, nil
	case <-ctx.Done():
	case <-q.done:
	}
	q.mu.Lock()
	waiting := q.removeWaiter(wt)
	closed := q.closed
	q.mu.Unlock()
	if !waiting {
		// A call was handed over as the wait ended.
		select {
		case t := <-wt.ch:
			return []Task{t}, nil
		default:
		}
	}
	if closed {
		return nil, ErrQueueClosed
	}
	return nil, nil
}

func (q *Queue) touch(w Worker) {
	ws := q.workers[w.ID]
	if ws == nil {
		ws = &workerState{Worker: w}
		q.workers[w.ID] = ws
	}
	if w.Labels != nil {
		ws.Labels = w.Labels
	}
	ws.seen = q.now()
}

// Heartbeat keeps w's leases alive and returns those of ids it no longer
// holds (expired, or the queue was replaced by a new leader's).
func (q *Queue) Heartbeat(w Worker, ids []string) (lost []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.touch(w)
	for _, id := range ids {
		l, ok := q.leased[id]
		if !ok || l.worker != w.ID {
			lost = append(lost, id)
			continue
		}
		l.renewed = q.now()
	}
	return lost
}

// Complete delivers the result of a lease w holds.
func (q *Queue) Complete(w Worker, id string, r TaskResult) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.touch(w)
	l, ok := q.leased[id]
	if !ok || l.worker != w.ID {
		return ErrUnknownLease
	}
	delete(q.leased, id)
	l.done <- r
	return nil
}

func (q *Queue) reap() {
	defer q.wg.Done()
	t := time.NewTicker(q.ttl / 4)
	defer t.Stop()
	for {
		select {
		case <-q.done:
			return
		case <-t.C:
			q.expire()
		}
	}
}

// expire fails the leases not renewed within the TTL and forgets workers
// silent for as long, with the claims they left parked.
func (q *Queue) expire() {
	q.mu.Lock()
	defer q.mu.Unlock()
	cutoff := q.now().Add(-q.ttl)
	for lid, l := range q.leased {
		if l.renewed.Before(cutoff) {
			delete(q.leased, lid)
			l.lost <- ErrLeaseLost
		}
	}
	for id, ws := range q.workers {
		if ws.seen.After(cutoff) {
			continue
		}
		delete(q.workers, id)
		// Claims still parked for it are a dead worker's (live workers
		// claim again well within the TTL): hand it nothing more.
		for i := 0; i < len(q.waiters); {
			if q.waiters[i].w.ID == id {
				q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
				continue
			}
			i++
		}
	}
}

// Close fails every pending and leased call with ErrQueueClosed.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	for _, l := range q.pending {
		l.lost <- ErrQueueClosed
	}
	for _, l := range q.leased {
		l.lost <- ErrQueueClosed
	}
	q.pending, q.leased = nil, map[string]*lease{}
	close(q.done)
	q.mu.Unlock()
	q.wg.Wait()
}

// WorkerInfo describes a worker for the API.
type WorkerInfo struct {
	ID       string            `json:"id"`
	Labels   map[string]string `json:"labels,omitempty"`
	LastSeen time.Time         `json:"last_seen"`
	Leases   []string          `json:"leases"`
}

// QueueStats is the queue's state for the API.
type QueueStats struct {
	Pending int          `json:"pending"`
	Leased  int          `json:"leased"`
	Workers []WorkerInfo `json:"workers"`
}

// Stats reports the pending and leased calls and the known workers.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := QueueStats{Pending: len(q.pending), Leased: len(q.leased), Workers: []WorkerInfo{}}
	by := map[string][]string{}
	for id, l := range q.leased {
		by[l.worker] = append(by[l.worker], id)
	}
	workers := map[string]*workerState{}
	for id, ws := range q.workers {
		workers[id] = ws
	}
	for _, wt := range q.waiters { // polling, possibly longer than the TTL
		if workers[wt.w.ID] == nil {
			workers[wt.w.ID] = &workerState{Worker: wt.w}
		}
	}
	for _, ws := range workers {
		ls := by[ws.ID]
		sort.Strings(ls)
		if ls == nil {
			ls = []string{}
		}
		st.Workers = append(st.Workers, WorkerInfo{ID: ws.ID, Labels: ws.Labels, LastSeen: ws.seen, Leases: ls})
	}
	sort.Slice(st.Workers, func(i, j int) bool { return st.Workers[i].ID < st.Workers[j].ID })
	return st
}
