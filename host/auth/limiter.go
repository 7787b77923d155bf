package auth

import (
	"slices"
	"sync"
	"time"
)

// DefaultMaxSources bounds the sources a Limiter remembers.
const DefaultMaxSources = 10000

// Limiter locks out a source (a remote address) after repeated
// authentication failures: threshold failures within window lock it for
// duration. Memory is bounded: when full, the sources with nothing left to
// remember go first, then the least recently seen unlocked ones, then the
// least recently seen overall.
type Limiter struct {
	threshold int
	window    time.Duration
	duration  time.Duration
	now       func() time.Time
	// MaxSources may be changed before first use; default DefaultMaxSources.
	MaxSources int

	mu      sync.Mutex
	sources map[string]*sourceState
}

type sourceState struct {
	failures    int
	windowStart time.Time
	lockedUntil time.Time
	lastSeen    time.Time
}

// NewLimiter returns a Limiter. threshold <= 0 disables lockout. now may be
// nil (time.Now).
func NewLimiter(threshold int, window, duration time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{threshold: threshold, window: window, duration: duration, now: now,
		MaxSources: DefaultMaxSources, sources: map[string]*sourceState{}}
}

// Check reports whether source is locked out now, and for how long still.
func (l *Limiter) Check(source string) (locked bool, retryAfter time.Duration) {
	if l.threshold <= 0 {
		return false, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sources[source]
	if !ok || !now.Before(s.lockedUntil) {
		return false, 0
	}
	return true, s.lockedUntil.Sub(now)
}

// Failure records a failed attempt from source and reports whether this
// failure locked it out (true once per lockout: record a security event then).
func (l *Limiter) Failure(source string) (lockedNow bool) {
	if l.threshold <= 0 {
		return false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sources[source]
	if !ok {
		l.makeRoom(now)
		s = &sourceState{}
		l.sources[source] = s
	}
	s.lastSeen = now
	if now.Before(s.lockedUntil) {
		return false // already locked
	}
	if s.failures == 0 || now.Sub(s.windowStart) >= l.window {
		s.failures, s.windowStart = 0, now
	}
	s.failures++
	if s.failures >= l.threshold {
		s.failures = 0
		s.lockedUntil = now.Add(l.duration)
		return true
	}
	return false
}

// Success forgets the failures of source (an existing lockout stands).
func (l *Limiter) Success(source string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sources[source]
	if !ok {
		return
	}
	if l.now().Before(s.lockedUntil) {
		s.failures = 0
		return
	}
	delete(l.sources, source)
}

// Len is the number of sources remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sources)
}

// makeRoom evicts so one more source fits. Called with mu held.
func (l *Limiter) makeRoom(now time.Time) {
	max := l.MaxSources
	if max <= 0 {
		max = DefaultMaxSources
	}
	if len(l.sources) < max {
		return
	}
	for k, s := range l.sources {
		if !now.Before(s.lockedUntil) && now.Sub(s.windowStart) >= l.window {
			delete(l.sources, k)
		}
	}
	if len(l.sources) < max {
		return
	}
	// Still full: evict a tenth at once so the cost is amortised.
	type cand struct {
		key string
		s   *sourceState
	}
	cands := make([]cand, 0, len(l.sources))
	for k, s := range l.sources {
		cands = append(cands, cand{k, s})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if better(now, a.s, b.s) {
			return -1
		}
		if better(now, b.s, a.s) {
			return 1
		}
		return 0
	})
	for _, c := range cands[:len(l.sources)-max+1+max/10] {
		delete(l.sources, c.key)
	}
}

// better reports whether a is a better eviction victim than b: unlocked
// before locked, then least recently seen.
func better(now time.Time, a, b *sourceState) bool {
	al, bl := now.Before(a.lockedUntil), now.Before(b.lockedUntil)
	if al != bl {
		return !al
	}
	return a.lastSeen.Before(b.lastSeen)
}
