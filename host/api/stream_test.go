package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/auth"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/host/web"
	"github.com/heady-dev/heady/host/workflow"
)

type streamFixture struct {
	url    string
	srv    *api.Server
	hub    *web.Hub
	audit  *audit.Log
	reader string
}

func newStreamFixture(t *testing.T) *streamFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	al, err := audit.Open(ctx, st, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close() })
	as := auth.New(st, auth.Options{})
	reader, _, err := as.Create(ctx, "viewer", "reader", time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	hub := web.NewHub(web.HubOptions{Buffer: 8})
	srv := api.New(&api.Services{Auth: as, Limiter: auth.NewLimiter(100, time.Minute, time.Minute, time.Now), Audit: al, Stream: hub},
		api.Options{AnonymousReads: "never", RequestTimeout: 2 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	f := &streamFixture{url: "http://" + ln.Addr().String() + api.Prefix, srv: srv, hub: hub, audit: al, reader: reader}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hub.Close()
	})
	return f
}

func (f *streamFixture) get(t *testing.T, path, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", f.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// readEvent reads one server-sent event block (skipping comment-only blocks).
func readEvent(t *testing.T, r *bufio.Reader) (event, data string) {
	t.Helper()
	for {
		var lines []string
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			l = strings.TrimRight(l, "\n")
			if l == "" {
				break
			}
			lines = append(lines, l)
		}
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "event: "); ok {
				event = v
			}
			if v, ok := strings.CutPrefix(l, "data: "); ok {
				data = v
			}
		}
		if event != "" {
			return event, data
		}
	}
}

func TestWhoAmI(t *testing.T) {
	f := newStreamFixture(t)
	tests := []struct {
		name   string
		token  string
		status int
		role   string
	}{
		{name: "reader token", token: f.reader, status: 200, role: "reader"},
		{name: "no token", token: "", status: 401},
		{name: "bad token", token: "heady_not_a_token", status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.get(t, "/whoami", tc.token)
			defer res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			var w api.WhoAmI
			if err := json.NewDecoder(res.Body).Decode(&w); err != nil {
				t.Fatal(err)
			}
			if w.Role != tc.role || w.Name != "viewer" || w.Kind != "token" {
				t.Fatalf("whoami = %+v", w)
			}
		})
	}
}

// TestStreamDeliversAndEndsOnShutdown: a reader receives published
// messages as server-sent events, the connection is audited once, and a
// server shutdown ends the stream instead of waiting for it.
func TestStreamDeliversAndEndsOnShutdown(t *testing.T) {
	f := newStreamFixture(t)
	res := f.get(t, "/stream", f.reader)
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(res.Body)
	deadline := time.Now().Add(5 * time.Second)
	for f.hub.Subscribers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stream never subscribed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.hub.ExecutionUpdate(workflow.Update{ExecutionID: "x1", Workflow: "w", Status: workflow.StatusRunning})
	ev, data := readEvent(t, r)
	if ev != "execution" || !strings.Contains(data, `"execution_id":"x1"`) {
		t.Fatalf("got event %q data %s", ev, data)
	}

	entries, _, err := f.audit.List(context.Background(), audit.Filter{Action: "stream.open"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != "viewer" {
		t.Fatalf("stream.open audit entries = %+v, want one by viewer", entries)
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open stream: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %v with an open stream", d)
	}
	if _, err := r.ReadString(0); err == nil {
		t.Fatal("stream still open after shutdown")
	}
}

func TestStreamRefusesAnonymous(t *testing.T) {
	f := newStreamFixture(t)
	res := f.get(t, "/stream", "")
	defer res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("status %d, want 401", res.StatusCode)
	}
}
