package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heady-dev/heady/host/store"
)

// PendingPrefix is the key space of accepted, not yet dispatched events.
const PendingPrefix = store.SpaceEvent + "p/"

// ErrBackpressure is matched (errors.Is) by the error Accept returns when too
// many accepted events wait for dispatch. The concrete error is a
// *BackpressureError carrying a retry hint.
var ErrBackpressure = errors.New("events: too many undispatched events")

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("events: inbox closed")

// BackpressureError tells the caller to retry after RetryAfter.
type BackpressureError struct {
	Pending    int
	RetryAfter time.Duration
}

func (e *BackpressureError) Error() string {
	return fmt.Sprintf("events: %d events wait for dispatch; retry after %s", e.Pending, e.RetryAfter)
}

// Is makes errors.Is(err, ErrBackpressure) true.
func (e *BackpressureError) Is(target error) bool { return target == ErrBackpressure }

// Options configure an Inbox.
type Options struct {
	// Limit is the maximum of accepted but undispatched events before
	// Accept refuses new ones (default 100000). Internal events (Emit) are
	// never refused.
	Limit int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Inbox is the durable event inbox. It is safe for concurrent use.
type Inbox struct {
	st    *store.Store
	limit int
	now   func() time.Time

	mu    sync.Mutex
	queue []Event
	// known holds every event between Prepare and Done: false while it is
	// being written, true once queued. Recover skips known events, so an
	// event is never queued twice.
	known   map[string]bool
	pending int // accepted, not yet dispatched
	closed  bool
	signal  chan struct{}
}

// NewInbox returns an inbox over st.
func NewInbox(st *store.Store, opts Options) *Inbox {
	if opts.Limit <= 0 {
		opts.Limit = 100000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Inbox{st: st, limit: opts.Limit, now: opts.Now, known: map[string]bool{}, signal: make(chan struct{}, 1)}
}

// Prepare fills in the ID and time of ev and returns the store operation that
// records it as accepted. Callers that write the event together with other
// state (atomically, in one Apply) call Prepare, Apply the ops, then Enqueue.
func (in *Inbox) Prepare(ev Event) (Event, store.Op, error) {
	if ev.Type == "" {
		return ev, store.Op{}, fmt.Errorf("events: accept: missing type")
	}
	if ev.Time.IsZero() {
		ev.Time = in.now().UTC()
	}
	if ev.ID == "" {
		ev.ID = NewID(ev.Time)
	}
	b, err := store.Encode(ev)
	if err != nil {
		return ev, store.Op{}, fmt.Errorf("events: accept %s: %w", ev.Type, err)
	}
	in.mu.Lock()
	if _, ok := in.known[ev.ID]; !ok {
		in.known[ev.ID] = false
	}
	in.mu.Unlock()
	return ev, store.Put(PendingPrefix+ev.ID, b), nil
}

// Accept stores ev durably and queues it for dispatch. It returns the event's
// ID only once the event is committed. When more than Limit events wait for
// dispatch it returns a *BackpressureError (errors.Is ErrBackpressure).
func (in *Inbox) Accept(ctx context.Context, ev Event) (string, error) {
	in.mu.Lock()
	if in.pending >= in.limit {
		n := in.pending
		in.mu.Unlock()
		return "", &BackpressureError{Pending: n, RetryAfter: retryAfter(n)}
	}
	in.mu.Unlock()
	return in.Emit(ctx, ev)
}

// Emit is Accept without the backpressure check, for events the host itself
// produces (reloads, health changes, plugin callbacks).
func (in *Inbox) Emit(ctx context.Context, ev Event) (string, error) {
	ev, op, err := in.Prepare(ev)
	if err != nil {
		return "", err
	}
	in.mu.Lock()
	in.pending++
	in.mu.Unlock()
	if err := in.st.Apply(ctx, op); err != nil {
		in.mu.Lock()
		in.pending--
		delete(in.known, ev.ID)
		in.mu.Unlock()
		return "", fmt.Errorf("events: accept %s: %w", ev.Type, err)
	}
	in.enqueue(false, ev)
	return ev.ID, nil
}

func retryAfter(pending int) time.Duration {
	d := time.Duration(pending/2000) * time.Second
	if d < time.Second {
		d = time.Second
	}
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	return d
}

// Enqueue queues events whose Prepare ops the caller has committed.
func (in *Inbox) Enqueue(evs ...Event) { in.enqueue(true, evs...) }

func (in *Inbox) enqueue(count bool, evs ...Event) {
	in.mu.Lock()
	for _, ev := range evs {
		if queued := in.known[ev.ID]; queued {
			continue
		}
		in.known[ev.ID] = true
		in.queue = append(in.queue, ev)
		if count {
			in.pending++
		}
	}
	in.mu.Unlock()
	in.wake()
}

func (in *Inbox) wake() {
	select {
	case in.signal <- struct{}{}:
	default:
	}
}

// Next blocks until at least one event is queued and returns up to max of
// them, oldest first. The caller must later commit DoneOp for each (in the
// same Apply as the work the event caused) and then call Done.
func (in *Inbox) Next(ctx context.Context, max int) ([]Event, error) {
	for {
		in.mu.Lock()
		if in.closed {
			in.mu.Unlock()
			return nil, ErrClosed
		}
		if len(in.queue) > 0 {
			n := min(max, len(in.queue))
			out := make([]Event, n)
			copy(out, in.queue[:n])
			clear(in.queue[:n])
			in.queue = in.queue[n:]
			if len(in.queue) == 0 {
				in.queue = nil
			}
			in.mu.Unlock()
			return out, nil
		}
		in.mu.Unlock()
		select {
		case <-in.signal:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// DoneOp is the store operation that marks event id dispatched.
func DoneOp(id string) store.Op { return store.Delete(PendingPrefix + id) }

// Done records that the events with these IDs are dispatched (their DoneOp
// is committed).
func (in *Inbox) Done(ids ...string) {
	in.mu.Lock()
	for _, id := range ids {
		if _, ok := in.known[id]; ok {
			delete(in.known, id)
			in.pending--
		}
	}
	in.mu.Unlock()
}

// Recover queues every accepted but undispatched event found in the store,
// oldest first, and returns how many it queued. Events already queued in
// memory, or being written by Accept or a Prepare caller, are not queued
// twice. Call it before the dispatcher starts consuming (Next).
func (in *Inbox) Recover(ctx context.Context) (int, error) {
	var evs []Event
	err := in.st.Scan(store.ScanOptions{Prefix: PendingPrefix}, func(key string, val []byte) (bool, error) {
		var ev Event
		if err := store.Decode(val, &ev); err != nil {
			return false, fmt.Errorf("events: recover %s: %w", key, err)
		}
		evs = append(evs, ev)
		return ctx.Err() == nil, nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	in.mu.Lock()
	for _, ev := range evs {
		// Known events are being written or already queued by their
		// producer; they are queued exactly once, by it.
		if _, ok := in.known[ev.ID]; ok {
			continue
		}
		in.known[ev.ID] = true
		in.queue = append(in.queue, ev)
		in.pending++
		n++
	}
	in.mu.Unlock()
	in.wake()
	return n, ctx.Err()
}

// Pending is the number of accepted events not yet dispatched.
func (in *Inbox) Pending() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.pending
}

// Close wakes Next callers with ErrClosed. Accepted events stay in the store.
func (in *Inbox) Close() {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	select {
	case in.signal <- struct{}{}:
	default:
	}
}
