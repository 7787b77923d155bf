package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

type received struct {
	header http.Header
	body   []byte
}

func receiver(t *testing.T, status *atomic.Int64) (*httptest.Server, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Header.Clone(), b})
		code := int(status.Load())
		mu.Unlock()
		if r.URL.Path == "/hang" {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

func TestDeliverSigned(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusAccepted)
	srv, got := receiver(t, &status)
	p := plugintest.Start(t, Options()...)
	plugintest.CheckManifest(t, p.Manifest)
	if _, err := p.Configure(context.Background(), "deliver", nil); err != nil {
		t.Fatal(err)
	}
	payload := map[string]any{"content_id": "c1", "title": "Hello", "preview": map[string]any{"id": "p1"}}
	before := time.Now().Unix()
	resp, err := p.RunAction(context.Background(), sdk.ActionRequest{
		Component: "deliver", IdempotencyKey: "exec-9/deliver_webhook/1",
		Inputs: map[string]any{"url": srv.URL + "/hooks", "payload": payload, "event": "content.published", "secret": "s3cret", "headers": map[string]any{"X-Extra": "1"}},
	})
	if err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if resp.Outputs["status"] != 202.0 || resp.Outputs["delivery_id"] != "exec-9/deliver_webhook/1" {
		t.Fatalf("outputs = %v", resp.Outputs)
	}
	rs := got()
	if len(rs) != 1 {
		t.Fatalf("%d deliveries, want exactly 1", len(rs))
	}
	r := rs[0]
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil || body["title"] != "Hello" {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if !pluginutil.VerifySignature("s3cret", r.body, r.header.Get("X-Heady-Signature-256")) {
		t.Fatalf("signature %q does not verify", r.header.Get("X-Heady-Signature-256"))
	}
	if pluginutil.VerifySignature("other", r.body, r.header.Get("X-Heady-Signature-256")) {
		t.Fatal("signature verifies with the wrong secret")
	}
	checks := map[string]string{"X-Heady-Event": "content.published", "X-Heady-Delivery": "exec-9/deliver_webhook/1", "Content-Type": "application/json", "X-Extra": "1"}
	for k, v := range checks {
		if r.header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, r.header.Get(k), v)
		}
	}
	ts, _ := strconv.ParseInt(r.header.Get("X-Heady-Timestamp"), 10, 64)
	if ts < before || ts > time.Now().Unix() {
		t.Fatalf("timestamp %d", ts)
	}
	// Without a secret there is no signature header.
	if _, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: "deliver", Inputs: map[string]any{"url": srv.URL, "payload": 1}}); err != nil {
		t.Fatal(err)
	}
	if last := got()[1]; last.header.Get("X-Heady-Signature-256") != "" || last.header.Get("X-Heady-Delivery") == "" {
		t.Fatalf("headers without secret: %v", last.header)
	}
}

func TestDeliverClassification(t *testing.T) {
	var status atomic.Int64
	srv, got := receiver(t, &status)
	p := plugintest.Start(t, Options()...)
	if _, err := p.Configure(context.Background(), "deliver", map[string]any{"timeout": "200ms"}); err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	tests := []struct {
		name      string
		status    int
		url       string
		code      string
		retryable bool
	}{
		{"500", 500, srv.URL, "http_500", true},
		{"502", 502, srv.URL, "http_502", true},
		{"429", 429, srv.URL, "http_429", true},
		{"400", 400, srv.URL, "http_400", false},
		{"410", 410, srv.URL, "http_410", false},
		{"redirect not followed", 302, srv.URL, "http_302", false},
		{"timeout", 200, srv.URL + "/hang", sdk.CodeTimeout, true},
		{"refused", 200, closed, sdk.CodeUnavailable, true},
		{"bad url", 200, "not a url", sdk.CodeInvalid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status.Store(int64(tt.status))
			n := len(got())
			_, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: "deliver", Inputs: map[string]any{"url": tt.url, "payload": "x"}})
			e := sdk.AsError(err)
			if e == nil || e.Code != tt.code || e.Retryable != tt.retryable || !strings.HasPrefix(e.Message, prefix) {
				t.Fatalf("err = %#v, want %s retryable=%v", e, tt.code, tt.retryable)
			}
			if d := len(got()) - n; d > 1 {
				t.Fatalf("%d attempts in one call; want at most one", d)
			}
		})
	}
	t.Run("allowed hosts", func(t *testing.T) {
		q := plugintest.Start(t, Options()...)
		if _, err := q.Configure(context.Background(), "deliver", map[string]any{"allowed_hosts": []any{"hooks.example.com"}}); err != nil {
			t.Fatal(err)
		}
		n := len(got())
		_, err := q.RunAction(context.Background(), sdk.ActionRequest{Component: "deliver", Inputs: map[string]any{"url": srv.URL}})
		if e := sdk.AsError(err); e == nil || e.Code != "host_not_allowed" {
			t.Fatalf("err = %#v", e)
		}
		if len(got()) != n {
			t.Fatal("delivered to a host not allowed")
		}
	})
}

func TestDeliverBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	var status atomic.Int64
	status.Store(200)
	srv, got := receiver(t, &status)
	bin := plugintest.Build(t, ".")
	plugintest.CheckManifest(t, plugintest.Describe(t, bin))
	p := plugintest.StartBinary(t, bin)
	if _, err := p.Configure(context.Background(), "deliver", map[string]any{"secret": "k"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: "deliver", Inputs: map[string]any{"url": srv.URL, "payload": map[string]any{"a": 1}}}); err != nil {
		t.Fatal(err)
	}
	rs := got()
	if len(rs) != 1 || !pluginutil.VerifySignature("k", rs[0].body, rs[0].header.Get("X-Heady-Signature-256")) {
		t.Fatalf("deliveries = %d", len(rs))
	}
}
