package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	type step struct {
		at      time.Duration // since start
		op      string        // "fail", "ok", "check"
		source  string
		locked  bool          // fail: locked now; check: locked
		retryIn time.Duration // check: retry after
	}
	a, b := "127.0.0.1", "::1"
	tests := []struct {
		name      string
		threshold int
		steps     []step
	}{
		{"locks at the threshold", 3, []step{
			{0, "fail", a, false, 0},
			{time.Second, "fail", a, false, 0},
			{2 * time.Second, "check", a, false, 0},
			{2 * time.Second, "fail", a, true, 0},
			{2 * time.Second, "check", a, true, 5 * time.Minute},
			{3 * time.Second, "fail", a, false, 0}, // already locked: not a new lockout
			{4 * time.Minute, "check", a, true, time.Minute + 2*time.Second},
			{5*time.Minute + 2*time.Second, "check", a, false, 0},
		}},
		{"sources are independent", 2, []step{
			{0, "fail", a, false, 0},
			{0, "fail", b, false, 0},
			{0, "fail", a, true, 0},
			{0, "check", b, false, 0},
			{0, "check", a, true, 5 * time.Minute},
		}},
		{"failures outside the window do not add up", 3, []step{
			{0, "fail", a, false, 0},
			{30 * time.Second, "fail", a, false, 0},
			{61 * time.Second, "fail", a, false, 0}, // new window
			{62 * time.Second, "fail", a, false, 0},
			{63 * time.Second, "fail", a, true, 0},
		}},
		{"success resets the count", 3, []step{
			{0, "fail", a, false, 0},
			{0, "fail", a, false, 0},
			{0, "ok", a, false, 0},
			{0, "fail", a, false, 0},
			{0, "fail", a, false, 0},
			{0, "check", a, false, 0},
		}},
		{"success does not lift a lockout", 1, []step{
			{0, "fail", a, true, 0},
			{time.Second, "ok", a, false, 0},
			{time.Second, "check", a, true, 5*time.Minute - time.Second},
		}},
		{"locks again after expiry", 2, []step{
			{0, "fail", a, false, 0},
			{0, "fail", a, true, 0},
			{5 * time.Minute, "check", a, false, 0},
			{5 * time.Minute, "fail", a, false, 0},
			{5 * time.Minute, "fail", a, true, 0},
		}},
		{"disabled", 0, []step{
			{0, "fail", a, false, 0},
			{0, "fail", a, false, 0},
			{0, "check", a, false, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			start := c.Now()
			l := NewLimiter(tt.threshold, time.Minute, 5*time.Minute, c.Now)
			for i, s := range tt.steps {
				c.mu.Lock()
				c.t = start.Add(s.at)
				c.mu.Unlock()
				switch s.op {
				case "fail":
					if got := l.Failure(s.source); got != s.locked {
						t.Fatalf("step %d: Failure(%s) = %v", i, s.source, got)
					}
				case "ok":
					l.Success(s.source)
				case "check":
					locked, retry := l.Check(s.source)
					if locked != s.locked || retry != s.retryIn {
						t.Fatalf("step %d: Check(%s) = %v, %v; want %v, %v", i, s.source, locked, retry, s.locked, s.retryIn)
					}
				}
			}
		})
	}
}

func TestLimiterMemoryBounded(t *testing.T) {
	c := newClock()
	l := NewLimiter(2, time.Minute, time.Hour, c.Now)
	l.MaxSources = 100
	// One locked source, then a flood of single failures from many sources.
	l.Failure("attacker")
	l.Failure("attacker")
	for i := range 10000 {
		c.Add(time.Millisecond)
		l.Failure(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		if l.Len() > 100 {
			t.Fatalf("limiter holds %d sources, bound is 100", l.Len())
		}
	}
	if locked, _ := l.Check("attacker"); !locked {
		t.Fatal("the locked source was evicted before unlocked ones")
	}
}
