package web

import (
	"context"
	"strings"
	"sync"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/host/workflow"
)

// Hub fans live updates out to stream subscribers. Producers never block:
// every subscriber has a bounded queue, and a subscriber whose queue is full
// loses messages and is sent one "resync" message as soon as it has room,
// so the client knows to reload what it shows.
type Hub struct {
	buf int

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool

	// raw carries committed event records from the store's writer to Run,
	// which decodes them off the write path.
	raw     chan []byte
	rawLost chan struct{}
	stop    chan struct{}
	once    sync.Once
}

type subscriber struct {
	ch      chan api.StreamMessage
	lagging bool
	dropped int
}

// HubOptions configure a Hub.
type HubOptions struct {
	// Buffer is each subscriber's queue length (default 256).
	Buffer int
}

// NewHub returns a running hub; call Run to decode store commits and Close
// to end every subscription.
func NewHub(o HubOptions) *Hub {
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	return &Hub{
		buf: o.Buffer, subs: map[*subscriber]struct{}{},
		raw: make(chan []byte, 1024), rawLost: make(chan struct{}, 1), stop: make(chan struct{}),
	}
}

var _ api.StreamSource = (*Hub)(nil)

// Subscribe implements api.StreamSource.
func (h *Hub) Subscribe() (<-chan api.StreamMessage, func()) {
	s := &subscriber{ch: make(chan api.StreamMessage, h.buf)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.ch)
		return s.ch, func() {}
	}
	h.subs[s] = struct{}{}
	return s.ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[s]; ok {
			delete(h.subs, s)
			close(s.ch)
		}
	}
}

// Subscribers is the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Publish offers m to every subscriber without blocking.
func (h *Hub) Publish(m api.StreamMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.offer(s, m)
	}
}

func (h *Hub) offer(s *subscriber, m api.StreamMessage) {
	if s.lagging {
		select {
		case s.ch <- api.StreamMessage{Event: "resync", Data: map[string]any{"dropped": s.dropped}}:
			s.lagging, s.dropped = false, 0
		default:
			s.dropped++
			return
		}
	}
	select {
	case s.ch <- m:
	default:
		s.lagging = true
		s.dropped++
	}
}

// resyncAll marks every subscriber as having lost messages.
func (h *Hub) resyncAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.lagging = true
		s.dropped++
		h.offer(s, api.StreamMessage{Event: "resync", Data: map[string]any{"dropped": s.dropped}})
	}
}

// ExecutionUpdate publishes a workflow progress update; pass it to
// workflow.Engine.Subscribe.
func (h *Hub) ExecutionUpdate(u workflow.Update) {
	h.Publish(api.StreamMessage{Event: "execution", Data: u})
}

// ObserveCommit picks accepted events out of a committed store batch; pass
// it to store.Store.OnCommit. It only copies bytes and never blocks.
func (h *Hub) ObserveCommit(ops []store.Op) {
	for _, op := range ops {
		if op.Kind != store.OpPut || !strings.HasPrefix(string(op.Key), events.PendingPrefix) {
			continue
		}
		select {
		case h.raw <- append([]byte(nil), op.Value...):
		default:
			select {
			case h.rawLost <- struct{}{}:
			default:
			}
		}
	}
}

// Run decodes observed events and publishes them until ctx ends or Close.
func (h *Hub) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.stop:
			return
		case <-h.rawLost:
			h.resyncAll()
		case b := <-h.raw:
			var ev events.Event
			if err := store.Decode(b, &ev); err != nil {
				continue
			}
			h.Publish(api.StreamMessage{Event: "event", Data: eventMessage{ID: ev.ID, Type: ev.Type, Source: ev.Source, Time: ev.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00")}})
		}
	}
}

// eventMessage is what the stream tells about an accepted event: its
// identity, not its data (which may be large or sensitive).
type eventMessage struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Source string `json:"source,omitempty"`
	Time   string `json:"time"`
}

// Close ends every subscription (their channels close) and refuses new ones.
func (h *Hub) Close() {
	h.once.Do(func() { close(h.stop) })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
}
