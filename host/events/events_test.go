package events

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/store"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, typ string
		want         bool
	}{
		{"*", "anything.at.all", true},
		{"*", "", true},
		{"user.*", "user.created", true},
		{"user.*", "user.profile.updated", true},
		{"user.*", "user", false},
		{"user.*", "users.created", false},
		{"user.created", "user.created", true},
		{"user.created", "user.deleted", false},
		{"*.created", "order.created", true},
		{"*.created", "order.created.late", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"order.?reated", "order.Created", true},
		{"", "", true},
		{"", "x", false},
	}
	for _, tc := range cases {
		t.Run(tc.pattern+"|"+tc.typ, func(t *testing.T) {
			if got := Match(tc.pattern, tc.typ); got != tc.want {
				t.Fatalf("Match(%q, %q) = %v, want %v", tc.pattern, tc.typ, got, tc.want)
			}
		})
	}
}

func TestNewIDSortable(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var ids []string
	for i := 0; i < 1000; i++ {
		ids = append(ids, NewID(now))
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("IDs within one millisecond are not increasing")
	}
	if later := NewID(now.Add(time.Second)); later <= ids[len(ids)-1] {
		t.Fatal("later ID sorts before earlier")
	}
}

func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	body := []byte(`{"action":"opened"}`)
	secretHook := &config.Webhook{Name: "gh", Secret: "s3cret"}
	customHook := &config.Webhook{Name: "c", Secret: "k", SignatureHeader: "X-Sig"}
	tokenHook := &config.Webhook{Name: "t", Token: "tok-123"}
	bothHook := &config.Webhook{Name: "b", Secret: "s3cret", Token: "tok-123"}
	openHook := &config.Webhook{Name: "open"}
	cases := []struct {
		name    string
		hook    *config.Webhook
		headers map[string]string
		body    []byte
		ok      bool
	}{
		{"good signature", secretHook, map[string]string{DefaultSignatureHeader: Sign("s3cret", body)}, body, true},
		{"good bare hex signature", secretHook, map[string]string{DefaultSignatureHeader: Sign("s3cret", body)[7:]}, body, true},
		{"bad signature", secretHook, map[string]string{DefaultSignatureHeader: Sign("other", body)}, body, false},
		{"signature of another body", secretHook, map[string]string{DefaultSignatureHeader: Sign("s3cret", body)}, []byte(`{}`), false},
		{"garbage signature", secretHook, map[string]string{DefaultSignatureHeader: "sha256=zz"}, body, false},
		{"missing signature", secretHook, nil, body, false},
		{"custom header", customHook, map[string]string{"X-Sig": Sign("k", body)}, body, true},
		{"custom header ignores default", customHook, map[string]string{DefaultSignatureHeader: Sign("k", body)}, body, false},
		{"good token", tokenHook, map[string]string{"Authorization": "Bearer tok-123"}, body, true},
		{"bad token", tokenHook, map[string]string{"Authorization": "Bearer tok-124"}, body, false},
		{"missing token", tokenHook, nil, body, false},
		{"either: token", bothHook, map[string]string{"Authorization": "Bearer tok-123"}, body, true},
		{"either: signature", bothHook, map[string]string{DefaultSignatureHeader: Sign("s3cret", body)}, body, true},
		{"unconfigured hook refused", openHook, nil, body, false},
		{"nil hook refused", nil, nil, body, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			err := VerifyWebhook(tc.hook, h.Get, tc.body)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("got %v, want ErrUnauthorized", err)
			}
		})
	}
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestInboxDurableAndRecover(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st := openStore(t, dir)
	in := NewInbox(st, Options{})
	ctx := context.Background()
	var ids []string
	for i := 0; i < 10; i++ {
		id, err := in.Accept(ctx, Event{Type: "x.y", Data: map[string]any{"i": i}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := in.Accept(ctx, Event{}); err == nil {
		t.Fatal("event without type accepted")
	}
	// Dispatch the first three.
	got, err := in.Next(ctx, 3)
	if err != nil || len(got) != 3 || got[0].ID != ids[0] {
		t.Fatalf("next: %v %v", got, err)
	}
	if err := st.Apply(ctx, DoneOp(got[0].ID), DoneOp(got[1].ID), DoneOp(got[2].ID)); err != nil {
		t.Fatal(err)
	}
	in.Done(got[0].ID, got[1].ID, got[2].ID)
	if in.Pending() != 7 {
		t.Fatalf("pending %d", in.Pending())
	}
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	in = NewInbox(st, Options{})
	n, err := in.Recover(ctx)
	if err != nil || n != 7 {
		t.Fatalf("recovered %d, %v", n, err)
	}
	if n, _ := in.Recover(ctx); n != 0 {
		t.Fatalf("second recover queued %d duplicates", n)
	}
	rest, _ := in.Next(ctx, 100)
	if len(rest) != 7 || rest[0].ID != ids[3] || rest[0].Data["i"] != float64(3) {
		t.Fatalf("recovered %+v", rest)
	}
}

func TestInboxBackpressure(t *testing.T) {
	t.Parallel()
	st := openStore(t, t.TempDir())
	defer st.Close()
	in := NewInbox(st, Options{Limit: 5})
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := in.Accept(ctx, Event{Type: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := in.Accept(ctx, Event{Type: "t"})
	var bp *BackpressureError
	if !errors.Is(err, ErrBackpressure) || !errors.As(err, &bp) || bp.RetryAfter <= 0 {
		t.Fatalf("got %v", err)
	}
	if _, err := in.Emit(ctx, Event{Type: "host.reload"}); err != nil {
		t.Fatalf("internal event refused: %v", err)
	}
	evs, _ := in.Next(ctx, 2)
	in.Done(evs[0].ID, evs[1].ID)
	if _, err := in.Accept(ctx, Event{Type: "t"}); err != nil {
		t.Fatalf("after dispatch: %v", err)
	}
}

func TestInboxNextBlocksUntilEvent(t *testing.T) {
	t.Parallel()
	st := openStore(t, t.TempDir())
	defer st.Close()
	in := NewInbox(st, Options{})
	var wg sync.WaitGroup
	var got []Event
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, _ = in.Next(context.Background(), 10)
	}()
	id, err := in.Accept(context.Background(), Event{Type: "late"})
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(got) != 1 || got[0].ID != id {
		t.Fatalf("got %+v", got)
	}
	in.Close()
	if _, err := in.Next(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestRecoverSkipsEventsBeingWritten(t *testing.T) {
	t.Parallel()
	st := openStore(t, t.TempDir())
	defer st.Close()
	in := NewInbox(st, Options{})
	ctx := context.Background()
	// A producer prepared and committed an event but has not queued it yet.
	ev, op, err := in.Prepare(Event{Type: "workflow.succeeded"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Apply(ctx, op); err != nil {
		t.Fatal(err)
	}
	if n, err := in.Recover(ctx); err != nil || n != 0 {
		t.Fatalf("recover queued %d (%v); the producer queues it", n, err)
	}
	in.Enqueue(ev)
	in.Enqueue(ev)
	if in.Pending() != 1 {
		t.Fatalf("pending %d, want 1", in.Pending())
	}
	got, _ := in.Next(ctx, 10)
	if len(got) != 1 || got[0].ID != ev.ID {
		t.Fatalf("got %+v", got)
	}
}
