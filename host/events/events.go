// Package events is Heady's durable event inbox.
//
// An event enters through Inbox.Accept (the REST API, webhooks, the host's
// own notifications, plugins through the host callback). Accept returns only
// after the event is written to the store through store.Apply, so an
// acknowledged event survives kill -9 (and power loss when the store syncs
// writes). Accepted events wait under the key space "event/p/" until a
// dispatcher (the workflow engine) consumes them: it writes the executions an
// event starts and the deletion of the event's pending key in one Apply batch,
// which makes dispatch exactly-once per event. On start, Recover reloads every
// accepted but undispatched event.
//
// The package also verifies inbound webhook signatures (VerifyWebhook) and
// matches event types against trigger patterns (Match).
package events

import (
	"crypto/rand"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Event is one occurrence that may start workflows.
type Event struct {
	// ID is a ULID: unique and sortable by acceptance time.
	ID     string         `json:"id"`
	Type   string         `json:"type"`
	Data   map[string]any `json:"data,omitempty"`
	Source string         `json:"source,omitempty"`
	Time   time.Time      `json:"time"`
}

var (
	idMu      sync.Mutex
	idEntropy io.Reader = ulid.Monotonic(rand.Reader, 0)
)

// NewID returns a new ULID for time t. IDs made by one process are strictly
// increasing, also within one millisecond.
func NewID(t time.Time) string {
	idMu.Lock()
	defer idMu.Unlock()
	id, err := ulid.New(ulid.Timestamp(t), idEntropy)
	if err != nil {
		// The monotonic reader overflows only after 2^80 IDs in one
		// millisecond; start a new sequence.
		idEntropy = ulid.Monotonic(rand.Reader, 0)
		id = ulid.MustNew(ulid.Timestamp(t), idEntropy)
	}
	return id.String()
}

// Match reports whether the event type typ matches pattern. A "*" matches any
// run of characters (dots included), "?" matches exactly one character, and
// every other character matches itself: "user.*" matches "user.created" and
// "user.profile.updated"; "*" matches every type.
func Match(pattern, typ string) bool {
	// Iterative glob with backtracking over the last star.
	p, t := 0, 0
	star, mark := -1, 0
	for t < len(typ) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == typ[t]):
			p++
			t++
		case p < len(pattern) && pattern[p] == '*':
			star = p
			mark = t
			p++
		case star >= 0:
			p = star + 1
			mark++
			t = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
