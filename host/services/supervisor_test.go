package services

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
)

type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) notify(_ context.Context, typ string, _ map[string]any) {
	r.mu.Lock()
	r.events = append(r.events, typ)
	r.mu.Unlock()
}

func (r *recorder) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e == typ {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func spec(name string, argv ...string) *config.Service {
	return &config.Service{Name: name, Command: argv, StopSignal: "SIGTERM", StopTimeout: 2 * time.Second, Restart: "always",
		MaxRestarts: 5, Window: time.Minute, RetryAfter: time.Hour}
}

func newSup(t *testing.T) (*Supervisor, *recorder) {
	t.Helper()
	r := &recorder{}
	s := New(Options{LogDir: t.TempDir(), Notify: r.notify, BackoffBase: 20 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, r
}

func running(s *Supervisor, name string) (Status, bool) {
	st, ok := s.Get(name)
	return st, ok && st.Running()
}

func TestKilledServiceIsRestarted(t *testing.T) {
	s, r := newSup(t)
	if err := s.Apply(context.Background(), []*config.Service{spec("sleeper", "sleep", "60")}); err != nil {
		t.Fatal(err)
	}
	st, ok := running(s, "sleeper")
	if !ok {
		t.Fatalf("not running: %+v", st)
	}
	old := st.PID
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a new process", func() bool {
		st, ok := running(s, "sleeper")
		return ok && st.PID != old
	})
	waitFor(t, 2*time.Second, "events", func() bool { return r.count(EventExited) == 1 && r.count(EventRestarted) == 1 })
	if st, _ := s.Get("sleeper"); st.Restarts != 1 || st.Starts != 2 {
		t.Fatalf("restarts %d starts %d, want 1 and 2", st.Restarts, st.Starts)
	}
}

func TestRestartBudget(t *testing.T) {
	s, r := newSup(t)
	sp := spec("crasher", "sh", "-c", "exit 3")
	sp.MaxRestarts, sp.RetryAfter = 3, 400*time.Millisecond
	_ = s.Apply(context.Background(), []*config.Service{sp})
	waitFor(t, 5*time.Second, "failed", func() bool { st, _ := s.Get("crasher"); return st.State == StateFailed })
	st, _ := s.Get("crasher")
	if st.Starts != 4 {
		t.Fatalf("starts = %d, want 4 (first start and 3 restarts)", st.Starts)
	}
	if got := r.count(EventFailed); got != 1 {
		t.Fatalf("service.failed events = %d, want 1", got)
	}
	if st.RetryAt.IsZero() {
		t.Fatal("no retry scheduled")
	}
	// The slow retry starts it once more; it dies and is failed again at once.
	waitFor(t, 5*time.Second, "the slow retry", func() bool { st, _ := s.Get("crasher"); return st.Starts == 5 })
	waitFor(t, 5*time.Second, "failed again", func() bool { return r.count(EventFailed) == 2 })
	st, _ = s.Get("crasher")
	if st.Starts != 5 || st.State != StateFailed {
		t.Fatalf("after retry: starts %d state %s, want 5 and failed", st.Starts, st.State)
	}
}

func TestRestartRequests(t *testing.T) {
	s, r := newSup(t)
	sp := spec("stubborn", "sh", "-c", "trap '' TERM; echo hello; while true; do sleep 0.05; done")
	sp.StopTimeout = 200 * time.Millisecond
	sp.MaxRestarts = 1
	_ = s.Apply(context.Background(), []*config.Service{sp})
	st, ok := running(s, "stubborn")
	if !ok {
		t.Fatalf("not running: %+v", st)
	}
	old := st.PID
	// The trap is installed once the shell has printed hello.
	waitFor(t, 5*time.Second, "the trap", func() bool {
		b, _ := os.ReadFile(st.LogFile)
		return strings.Contains(string(b), "hello")
	})
	ctx := context.Background()
	start := time.Now()
	st, err := s.Restart(ctx, "stubborn", RestartOptions{Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if st.PID == old || !st.Running() {
		t.Fatalf("not restarted: %+v", st)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("restart took %s: the grace period was not honoured", d)
	}
	if syscall.Kill(old, 0) == nil {
		t.Fatalf("old process %d still alive after SIGKILL", old)
	}
	if _, err := s.Restart(ctx, "stubborn", RestartOptions{}); !errors.Is(err, ErrBudget) {
		t.Fatalf("second restart: %v, want ErrBudget", err)
	}
	waitFor(t, time.Second, "failed event", func() bool { return r.count(EventFailed) == 1 })
	if st, err := s.Restart(ctx, "stubborn", RestartOptions{Force: true}); err != nil || !st.Running() || st.WindowRestarts != 0 {
		t.Fatalf("forced restart: %+v %v", st, err)
	}
	if _, err := s.Restart(ctx, "nope", RestartOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown service: %v", err)
	}
	waitFor(t, 5*time.Second, "the output of the three processes in the log", func() bool {
		b, _ := os.ReadFile(st.LogFile)
		return strings.Count(string(b), "hello") == 3
	})
}

func TestApplyAndPolicies(t *testing.T) {
	tests := []struct {
		name    string
		restart string
		argv    []string
		wantUp  bool
	}{
		{"never stays down", "never", []string{"sh", "-c", "exit 1"}, false},
		{"on_failure ignores a clean exit", "on_failure", []string{"sh", "-c", "exit 0"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, r := newSup(t)
			sp := spec("x", tc.argv...)
			sp.Restart = tc.restart
			_ = s.Apply(context.Background(), []*config.Service{sp})
			waitFor(t, 5*time.Second, "exit", func() bool { return r.count(EventExited) == 1 })
			st, _ := s.Get("x")
			if st.State != StateExited || st.Starts != 1 {
				t.Fatalf("state %s starts %d, want exited after 1 start", st.State, st.Starts)
			}
		})
	}
	t.Run("removed and changed services", func(t *testing.T) {
		s, _ := newSup(t)
		dir := t.TempDir()
		a, b := spec("a", "sleep", "60"), spec("b", "sleep", "60")
		b.DependsOn = []string{"a"}
		b.LogFile = filepath.Join(dir, "b.log")
		_ = s.Apply(context.Background(), []*config.Service{b, a})
		sa, _ := s.Get("a")
		sb, _ := s.Get("b")
		if !sa.Running() || !sb.Running() || sa.StartedAt.After(sb.StartedAt) {
			t.Fatalf("a should start before b: %+v %+v", sa, sb)
		}
		a2 := spec("a", "sleep", "61")
		_ = s.Apply(context.Background(), []*config.Service{a2})
		if _, ok := s.Get("b"); ok {
			t.Fatal("b still declared")
		}
		if syscall.Kill(sb.PID, 0) == nil {
			t.Fatal("b's process still runs")
		}
		na, _ := s.Get("a")
		if na.PID == sa.PID || !na.Running() {
			t.Fatalf("a was not restarted with its new command: %+v", na)
		}
	})
}
