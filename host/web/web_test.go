package web

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/store"
)

func newApp(t *testing.T) (*fiber.App, *Dashboard) {
	t.Helper()
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	d.Mount(app)
	return app, d
}

func TestDashboardServing(t *testing.T) {
	app, d := newApp(t)
	js := d.Base() + "app.js"
	tests := []struct {
		name, path string
		header     map[string]string
		status     int
		cache      string
		contains   string
		encoding   string
	}{
		{name: "index", path: "/", status: 200, cache: "no-cache", contains: `src="` + js + `"`},
		{name: "hashed asset is immutable", path: js, status: 200, cache: "immutable", contains: "import"},
		{name: "unhashed asset revalidates", path: "/ui/app.css", status: 200, cache: "no-cache", contains: "--accent"},
		{name: "old hash revalidates", path: "/ui/000000000000/app.js", status: 200, cache: "no-cache"},
		{name: "page module", path: d.Base() + "pages/workflows.js", status: 200, contains: "export function render"},
		{name: "gzip", path: js, header: map[string]string{"Accept-Encoding": "gzip"}, status: 200, encoding: "gzip"},
		{name: "missing asset", path: d.Base() + "nope.js", status: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			res, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.cache != "" && !strings.Contains(res.Header.Get("Cache-Control"), tc.cache) {
				t.Errorf("Cache-Control %q, want %q", res.Header.Get("Cache-Control"), tc.cache)
			}
			if tc.contains != "" && !strings.Contains(string(body), tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
			if tc.encoding != res.Header.Get("Content-Encoding") {
				t.Errorf("Content-Encoding %q, want %q", res.Header.Get("Content-Encoding"), tc.encoding)
			}
			if tc.status == 200 && !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("no same-origin content security policy")
			}
		})
	}
	t.Run("etag revalidation", func(t *testing.T) {
		res, _ := app.Test(httptest.NewRequest("GET", js, nil), -1)
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		req := httptest.NewRequest("GET", js, nil)
		req.Header.Set("If-None-Match", etag)
		res, _ = app.Test(req, -1)
		if res.StatusCode != 304 {
			t.Fatalf("status %d, want 304", res.StatusCode)
		}
	})
}

// TestModuleImportsResolve keeps the modules consistent: every relative
// import and every page the router can load is an embedded asset, and no
// asset refers to anything outside this host.
func TestModuleImportsResolve(t *testing.T) {
	_, d := newApp(t)
	have := map[string]bool{}
	for _, n := range d.Assets() {
		have[n] = true
	}
	imp := regexp.MustCompile(`(?:from|import)\s*\(?\s*'(\.{1,2}/[^']+)'`)
	external := regexp.MustCompile(`(?i)(?:src|href)=["']?(?:https?:)?//|https?://[a-z0-9.-]+\.[a-z]{2,}/`)
	for _, n := range d.Assets() {
		b := d.assets[n].body
		if external.Match(bytes.ReplaceAll(b, []byte("http://www.w3.org/2000/svg"), nil)) && !strings.HasSuffix(n, ".svg") {
			t.Errorf("%s refers to an external URL", n)
		}
		if !strings.HasSuffix(n, ".js") {
			continue
		}
		dir := n[:strings.LastIndex(n, "/")+1]
		for _, m := range imp.FindAllSubmatch(b, -1) {
			p := resolve(dir, string(m[1]))
			if strings.HasSuffix(p, "/") {
				continue // the router's dynamic page import, checked below
			}
			if !have[p] {
				t.Errorf("%s imports %s (%s), which is not embedded", n, m[1], p)
			}
		}
	}
	pages := regexp.MustCompile(`\['([a-z]+)', '[A-Za-z ]+'\]`).FindAllSubmatch(d.assets["app.js"].body, -1)
	if len(pages) < 10 {
		t.Fatalf("found %d pages in the router, want 10", len(pages))
	}
	for _, m := range pages {
		if !have["pages/"+string(m[1])+".js"] {
			t.Errorf("page %s has no module", m[1])
		}
	}
}

func resolve(dir, rel string) string {
	for strings.HasPrefix(rel, "../") {
		rel = rel[3:]
		dir = strings.TrimSuffix(dir, "/")
		dir = dir[:strings.LastIndex(dir, "/")+1]
	}
	return dir + strings.TrimPrefix(rel, "./")
}

func TestHubSlowSubscriberIsToldToResync(t *testing.T) {
	h := NewHub(HubOptions{Buffer: 4})
	ch, cancel := h.Subscribe()
	defer cancel()
	for i := 0; i < 10; i++ {
		h.Publish(api.StreamMessage{Event: "execution", Data: i})
	}
	for i := 0; i < 4; i++ {
		if m := <-ch; m.Event != "execution" || m.Data != i {
			t.Fatalf("message %d = %+v", i, m)
		}
	}
	h.Publish(api.StreamMessage{Event: "execution", Data: 99})
	if m := <-ch; m.Event != "resync" {
		t.Fatalf("after drops got %+v, want resync", m)
	}
	if m := <-ch; m.Data != 99 {
		t.Fatalf("after resync got %+v, want the new message", m)
	}
	h.Close()
	if _, ok := <-ch; ok {
		t.Fatal("channel open after Close")
	}
	if _, ok := <-func() <-chan api.StreamMessage { c, _ := h.Subscribe(); return c }(); ok {
		t.Fatal("subscription after Close is open")
	}
}

func TestHubPublishesAcceptedEvents(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := NewHub(HubOptions{})
	st.OnCommit(h.ObserveCommit)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx)
	ch, unsub := h.Subscribe()
	defer unsub()
	in := events.NewInbox(st, events.Options{})
	id, err := in.Accept(ctx, events.Event{Type: "user.created", Data: map[string]any{"secret": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		em, ok := m.Data.(eventMessage)
		if m.Event != "event" || !ok || em.ID != id || em.Type != "user.created" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event message")
	}
}
