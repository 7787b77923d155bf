package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

type submitted struct {
	res TaskResult
	err error
}

func submitAsync(q *Queue, call string, labels map[string]string) chan submitted {
	ch := make(chan submitted, 1)
	go func() {
		r, err := q.Submit(context.Background(), json.RawMessage(call), labels)
		ch <- submitted{r, err}
	}()
	return ch
}

func claimOne(t *testing.T, q *Queue, w Worker, within time.Duration) []Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tasks, err := q.Claim(ctx, w, 1)
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

func TestQueueLabelsPinCalls(t *testing.T) {
	q := NewQueue(time.Second)
	defer q.Close()
	res := submitAsync(q, `{"step":"backup"}`, map[string]string{"role": "db"})
	tests := []struct {
		name   string
		labels map[string]string
		want   int
	}{
		{"no labels", nil, 0},
		{"other role", map[string]string{"role": "web"}, 0},
		{"matching and more", map[string]string{"role": "db", "zone": "a"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wait := 50 * time.Millisecond
			if tc.want > 0 {
				wait = 5 * time.Second
			}
			got := claimOne(t, q, Worker{ID: tc.name, Labels: tc.labels}, wait)
			if len(got) != tc.want {
				t.Fatalf("claimed %d, want %d", len(got), tc.want)
			}
			if tc.want > 0 {
				if err := q.Complete(Worker{ID: tc.name}, got[0].ID, TaskResult{Result: json.RawMessage(`{"ok":true}`)}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	r := <-res
	if r.err != nil || string(r.res.Result) != `{"ok":true}` {
		t.Fatalf("submit = %+v", r)
	}
}

func TestQueueSilentWorkerLosesLease(t *testing.T) {
	q := NewQueue(200 * time.Millisecond)
	defer q.Close()
	res := submitAsync(q, `{}`, nil)
	got := claimOne(t, q, Worker{ID: "dies"}, 5*time.Second)
	if len(got) != 1 {
		t.Fatal("no task")
	}
	// A live worker keeps heartbeating; the one holding the lease does not.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				q.Heartbeat(Worker{ID: "lives"}, nil)
			}
		}
	}()
	select {
	case r := <-res:
		if !errors.Is(r.err, ErrLeaseLost) {
			t.Fatalf("submit = %+v, want ErrLeaseLost", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lease never expired")
	}
	st := q.Stats()
	if len(st.Workers) != 1 || st.Workers[0].ID != "lives" {
		t.Fatalf("workers = %+v", st.Workers)
	}
	if lost := q.Heartbeat(Worker{ID: "dies"}, []string{got[0].ID}); len(lost) != 1 {
		t.Fatalf("heartbeat after expiry reported lost %v", lost)
	}
	if err := q.Complete(Worker{ID: "dies"}, got[0].ID, TaskResult{}); !errors.Is(err, ErrUnknownLease) {
		t.Fatalf("late completion = %v", err)
	}
}

func TestQueueCloseFailsSubmitters(t *testing.T) {
	q := NewQueue(time.Second)
	res := submitAsync(q, `{}`, map[string]string{"never": "matched"})
	waitFor(t, 5*time.Second, "the call to be pending", func() bool { return q.Stats().Pending == 1 })
	q.Close()
	if r := <-res; !errors.Is(r.err, ErrQueueClosed) {
		t.Fatalf("submit = %+v", r)
	}
	if _, err := q.Claim(context.Background(), Worker{ID: "w"}, 1); !errors.Is(err, ErrQueueClosed) {
		t.Fatalf("claim on a closed queue = %v", err)
	}
}

func TestQueueOrphanedLeaseExpiresWhileWorkerLives(t *testing.T) {
	q := NewQueue(200 * time.Millisecond)
	defer q.Close()
	res := submitAsync(q, `{}`, nil)
	w := Worker{ID: "alive"}
	if got := claimOne(t, q, w, 5*time.Second); len(got) != 1 {
		t.Fatal("no task")
	}
	// The worker keeps claiming and heartbeating, but never names the
	// lease (its claim answer was lost on the way).
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(40 * time.Millisecond):
				q.Heartbeat(w, nil)
			}
		}
	}()
	select {
	case r := <-res:
		if !errors.Is(r.err, ErrLeaseLost) {
			t.Fatalf("submit = %+v, want ErrLeaseLost", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an orphaned lease never expired")
	}
}
