package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeHeady records the events the app emits.
type fakeHeady struct {
	mu     sync.Mutex
	events []map[string]any
	auth   []string
	status int
}

func (f *fakeHeady) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/automation/events" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var ev map[string]any
	_ = json.NewDecoder(r.Body).Decode(&ev)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	w.WriteHeader(f.status)
	_, _ = io.WriteString(w, `{"id":"01J"}`)
}

func newApp(t *testing.T, cfg Config) (*httptest.Server, *fakeHeady) {
	t.Helper()
	fh := &fakeHeady{status: http.StatusAccepted}
	hs := httptest.NewServer(fh)
	t.Cleanup(hs.Close)
	if cfg.HeadyURL == "" {
		cfg.HeadyURL = hs.URL
	}
	app, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return srv, fh
}

func do(t *testing.T, method, url string, body any, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, url, rd)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func state(t *testing.T, base string) map[string]any {
	t.Helper()
	code, m := do(t, "GET", base+"/api/state", nil, nil)
	if code != 200 {
		t.Fatalf("state: %d", code)
	}
	return m
}

func TestRegisterAndPublishEmitEvents(t *testing.T) {
	srv, fh := newApp(t, Config{HeadyToken: "tok"})
	code, res := do(t, "POST", srv.URL+"/api/users", map[string]any{"user_id": "u1", "email": "ada@example.com", "name": "Ada"}, nil)
	if code != 201 || res["event_emitted"] != true {
		t.Fatalf("register: %d %v", code, res)
	}
	code, res = do(t, "POST", srv.URL+"/api/content", map[string]any{"content_id": "c1", "title": "Hello", "body": "World"}, nil)
	if code != 201 || res["event_emitted"] != true {
		t.Fatalf("publish: %d %v", code, res)
	}
	fh.mu.Lock()
	defer fh.mu.Unlock()
	if len(fh.events) != 2 || fh.auth[0] != "Bearer tok" {
		t.Fatalf("events %v auth %v", fh.events, fh.auth)
	}
	if fh.events[0]["type"] != "user.registered" || fh.events[0]["data"].(map[string]any)["email"] != "ada@example.com" {
		t.Fatalf("event 0 = %v", fh.events[0])
	}
	if fh.events[1]["type"] != "content.published" || fh.events[1]["data"].(map[string]any)["title"] != "Hello" {
		t.Fatalf("event 1 = %v", fh.events[1])
	}
	st := state(t, srv.URL)
	if len(st["users"].([]any)) != 1 {
		t.Fatalf("state = %v", st)
	}
	tests := []struct {
		name string
		path string
		body any
		want int
	}{
		{"duplicate user", "/api/users", map[string]any{"user_id": "u1", "email": "ada@example.com"}, 409},
		{"missing email", "/api/users", map[string]any{"user_id": "u2"}, 400},
		{"bad json", "/api/users", "{", 400},
		{"content without title", "/api/content", map[string]any{"content_id": "c2"}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _ := do(t, "POST", srv.URL+tt.path, tt.body, nil); code != tt.want {
				t.Fatalf("status %d, want %d", code, tt.want)
			}
		})
	}
}

func TestEmitFailureIsReported(t *testing.T) {
	srv, fh := newApp(t, Config{})
	fh.mu.Lock()
	fh.status = http.StatusUnauthorized
	fh.mu.Unlock()
	code, res := do(t, "POST", srv.URL+"/api/users", map[string]any{"user_id": "u1", "email": "a@example.com"}, nil)
	if code != 201 || res["event_emitted"] != false || !strings.Contains(res["event_error"].(string), "401") {
		t.Fatalf("register: %d %v", code, res)
	}
	code, body := get(t, srv.URL+"/metrics")
	if code != 200 || !strings.Contains(body, `demoapp_events_emitted_total{result="error"} 1`) {
		t.Fatalf("metrics:\n%s", body)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWorkflowEndpoints(t *testing.T) {
	srv, _ := newApp(t, Config{})
	// Workspaces: idempotent per user and per Idempotency-Key.
	code, ws := do(t, "POST", srv.URL+"/api/workspaces", map[string]any{"user_id": "u1", "name": "Ada's workspace"}, nil)
	if code != 201 || ws["id"] == "" || ws["user_id"] != "u1" || ws["name"] != "Ada's workspace" {
		t.Fatalf("create: %d %v", code, ws)
	}
	code, again := do(t, "POST", srv.URL+"/api/workspaces", map[string]any{"user_id": "u1", "name": "other"}, nil)
	if code != 200 || again["id"] != ws["id"] {
		t.Fatalf("repeat: %d %v", code, again)
	}
	code, k1 := do(t, "POST", srv.URL+"/api/workspaces", map[string]any{"user_id": "u2"}, map[string]string{"Idempotency-Key": "k"})
	code2, k2 := do(t, "POST", srv.URL+"/api/workspaces", map[string]any{"user_id": "u3"}, map[string]string{"Idempotency-Key": "k"})
	if code != 201 || code2 != 200 || k1["id"] != k2["id"] {
		t.Fatalf("idempotency key: %d %v / %d %v", code, k1, code2, k2)
	}
	// Permissions.
	perm := map[string]any{"user_id": "u1", "workspace_id": ws["id"], "role": "owner"}
	if code, _ := do(t, "POST", srv.URL+"/api/permissions", perm, nil); code != 201 {
		t.Fatalf("permission: %d", code)
	}
	if code, _ := do(t, "POST", srv.URL+"/api/permissions", perm, nil); code != 200 {
		t.Fatalf("repeat permission: %d", code)
	}
	if code, _ := do(t, "POST", srv.URL+"/api/permissions", map[string]any{"user_id": "u1", "workspace_id": "nope", "role": "owner"}, nil); code != 404 {
		t.Fatalf("unknown workspace: %d", code)
	}
	// Previews and search.
	code, pv := do(t, "POST", srv.URL+"/api/previews", map[string]any{"content_id": "c1", "title": "Gophers"}, nil)
	if code != 201 || pv["content_id"] != "c1" || !strings.Contains(pv["preview"].(string), "Gophers") || pv["id"] == "" {
		t.Fatalf("preview: %d %v", code, pv)
	}
	if code, _ := do(t, "PUT", srv.URL+"/api/search/c1", map[string]any{"content_id": "c1", "title": "Gophers unite", "tags": []any{"go"}}, nil); code != 200 {
		t.Fatalf("index: %d", code)
	}
	if code, _ := do(t, "PUT", srv.URL+"/api/search/c2", map[string]any{"title": "Rust"}, nil); code != 200 {
		t.Fatalf("index: %d", code)
	}
	code, res := do(t, "GET", srv.URL+"/api/search?q=gopher", nil, nil)
	results := res["results"].([]any)
	if code != 200 || len(results) != 1 || results[0].(map[string]any)["id"] != "c1" {
		t.Fatalf("search: %d %v", code, res)
	}
	st := state(t, srv.URL)
	for k, n := range map[string]int{"workspaces": 2, "permissions": 1, "previews": 1, "search_entries": 2, "webhooks_received": 0} {
		if got := len(st[k].([]any)); got != n {
			t.Errorf("%s: %d, want %d", k, got, n)
		}
	}
}

func TestWebhookReceiver(t *testing.T) {
	srv, _ := newApp(t, Config{WebhookSecret: "s3cret"})
	body := []byte(`{"content_id":"c1","title":"Hello"}`)
	tests := []struct {
		name  string
		sig   string
		want  int
		valid bool
	}{
		{"valid", Sign("s3cret", body), 200, true},
		{"wrong secret", Sign("other", body), 401, false},
		{"missing", "", 401, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/hooks/content", bytes.NewReader(body))
			req.Header.Set("X-Heady-Signature-256", tt.sig)
			req.Header.Set("X-Heady-Event", "content.published")
			req.Header.Set("X-Heady-Delivery", "d"+tt.name)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			hooks := state(t, srv.URL)["webhooks_received"].([]any)
			if len(hooks) != i+1 {
				t.Fatalf("%d recorded", len(hooks))
			}
			h := hooks[i].(map[string]any)
			if h["signature_valid"] != tt.valid || h["event"] != "content.published" || h["payload"].(map[string]any)["title"] != "Hello" {
				t.Fatalf("recorded %v", h)
			}
		})
	}
}

func TestHealthFaultInjectionAndMetrics(t *testing.T) {
	srv, _ := newApp(t, Config{})
	if code, _ := get(t, srv.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, _ := do(t, "POST", srv.URL+"/admin/fail", map[string]any{"status": 503, "count": 2}, nil); code != 200 {
		t.Fatalf("admin/fail: %d", code)
	}
	for i, want := range []int{503, 503, 200, 200} {
		if code, _ := get(t, srv.URL+"/healthz"); code != want {
			t.Fatalf("healthz %d: %d, want %d", i, code, want)
		}
	}
	if code, _ := do(t, "POST", srv.URL+"/admin/fail", map[string]any{"status": 42, "count": 1}, nil); code != 400 {
		t.Fatalf("bad status accepted: %d", code)
	}
	code, body := get(t, srv.URL+"/metrics")
	if code != 200 || !strings.Contains(body, `demoapp_requests_total{route="GET /healthz"} 5`) || !strings.Contains(body, "# TYPE demoapp_webhooks_received_total counter") {
		t.Fatalf("metrics:\n%s", body)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	srv, _ := newApp(t, Config{DataDir: dir})
	code, ws := do(t, "POST", srv.URL+"/api/workspaces", map[string]any{"user_id": "u1"}, nil)
	if code != 201 {
		t.Fatal(code)
	}
	srv.Close()
	srv2, _ := newApp(t, Config{DataDir: dir})
	code, again := do(t, "POST", srv2.URL+"/api/workspaces", map[string]any{"user_id": "u1"}, nil)
	if code != 200 || again["id"] != ws["id"] {
		t.Fatalf("after restart: %d %v (want %v)", code, again, ws["id"])
	}
}

func TestFlags(t *testing.T) {
	if err := run([]string{"--no-such-flag"}); err == nil {
		t.Fatal("unknown flag accepted")
	}
}
