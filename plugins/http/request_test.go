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
	"sync/atomic"
	"testing"

	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

// echo answers with what it received, and a few special paths.
func echoServerB(tb testing.TB) (string, *atomic.Int64) {
	srv, n := echoServer(tb)
	return srv.URL, n
}

func echoServer(t testing.TB) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "body": string(b), "content_type": r.Header.Get("Content-Type"),
			"query": r.URL.Query().Get("q"), "header": r.Header.Get("X-Test"), "ua": r.Header.Get("User-Agent"),
			"idempotency_key": r.Header.Get("Idempotency-Key"),
		})
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "status body")
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo", http.StatusFound)
	})
	mux.HandleFunc("/redirect-away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:1/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"data":"`+strings.Repeat("x", 1000)+`"}`)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func start(t testing.TB, cfg map[string]any) *plugintest.Plugin {
	t.Helper()
	p := plugintest.Start(t, Options()...)
	if _, err := p.Configure(context.Background(), "request", cfg); err != nil {
		t.Fatalf("configure: %v", err)
	}
	return p
}

func run(p *plugintest.Plugin, inputs map[string]any) (sdk.ActionResponse, *sdk.Error) {
	resp, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: "request", Inputs: inputs, IdempotencyKey: "exec-1/step/1"})
	return resp, sdk.AsError(err)
}

func TestRequestSuccess(t *testing.T) {
	srv, conns := echoServer(t)
	p := start(t, nil)
	plugintest.CheckManifest(t, p.Manifest)
	tests := []struct {
		name  string
		in    map[string]any
		check func(t *testing.T, out map[string]any, js map[string]any)
	}{
		{"get defaults", map[string]any{"url": srv.URL + "/echo"}, func(t *testing.T, out, js map[string]any) {
			if js["method"] != "GET" || js["ua"] != "heady-http/"+Version || js["idempotency_key"] != "" {
				t.Fatalf("server saw %v", js)
			}
			h := out["headers"].(map[string]any)
			if h["X-Multi"] != "a, b" {
				t.Fatalf("headers = %v", h)
			}
		}},
		{"post json", map[string]any{"method": "post", "url": srv.URL + "/echo", "json": map[string]any{"user_id": "u1", "n": 2}}, func(t *testing.T, out, js map[string]any) {
			if js["method"] != "POST" || js["content_type"] != "application/json" || js["body"] != `{"n":2,"user_id":"u1"}` {
				t.Fatalf("server saw %v", js)
			}
			if js["idempotency_key"] != "exec-1/step/1" {
				t.Fatalf("idempotency key %v", js["idempotency_key"])
			}
		}},
		{"raw body headers query", map[string]any{"method": "PUT", "url": srv.URL + "/echo?x=1", "body": "plain", "headers": map[string]any{"X-Test": "yes", "Content-Type": "text/plain"}, "query": map[string]any{"q": "word"}}, func(t *testing.T, out, js map[string]any) {
			if js["body"] != "plain" || js["header"] != "yes" || js["query"] != "word" || js["content_type"] != "text/plain" {
				t.Fatalf("server saw %v", js)
			}
		}},
		{"redirect followed", map[string]any{"url": srv.URL + "/redirect"}, func(t *testing.T, out, js map[string]any) {
			if js["method"] != "GET" {
				t.Fatalf("server saw %v", js)
			}
		}},
		{"expected 404", map[string]any{"url": srv.URL + "/status/404", "expect_status": []any{404}}, func(t *testing.T, out, js map[string]any) {
			if out["status"] != 404.0 || out["body"] != "status body" || out["json"] != nil {
				t.Fatalf("outputs = %v", out)
			}
		}},
		{"redirect not followed", map[string]any{"url": srv.URL + "/redirect", "follow_redirects": false, "expect_status": []any{302}}, func(t *testing.T, out, js map[string]any) {
			if out["status"] != 302.0 {
				t.Fatalf("status = %v", out["status"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := run(p, tt.in)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			js, _ := resp.Outputs["json"].(map[string]any)
			if _, ok := resp.Outputs["duration_ms"].(float64); !ok {
				t.Fatalf("no duration_ms: %v", resp.Outputs)
			}
			tt.check(t, resp.Outputs, js)
		})
	}
	// All requests above reused pooled connections to the one server.
	if n := conns.Load(); n > 2 {
		t.Fatalf("%d connections opened for %d requests; the client does not pool", n, len(tests))
	}
}

func TestRequestFailures(t *testing.T) {
	srv, _ := echoServer(t)
	p := start(t, nil)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()
	tests := []struct {
		name      string
		in        map[string]any
		code      string
		retryable bool
	}{
		{"404 permanent", map[string]any{"url": srv.URL + "/status/404"}, "http_404", false},
		{"400 permanent", map[string]any{"url": srv.URL + "/status/400"}, "http_400", false},
		{"500 retryable", map[string]any{"url": srv.URL + "/status/500"}, "http_500", true},
		{"503 retryable", map[string]any{"url": srv.URL + "/status/503"}, "http_503", true},
		{"429 retryable", map[string]any{"url": srv.URL + "/status/429"}, "http_429", true},
		{"200 not in expect_status", map[string]any{"url": srv.URL + "/echo", "expect_status": []any{201}}, "http_200", false},
		{"timeout", map[string]any{"url": srv.URL + "/hang", "timeout": "100ms"}, sdk.CodeTimeout, true},
		{"connection refused", map[string]any{"url": closed}, sdk.CodeUnavailable, true},
		{"missing url", map[string]any{}, sdk.CodeInvalid, false},
		{"bad scheme", map[string]any{"url": "ftp://127.0.0.1/x"}, sdk.CodeInvalid, false},
		{"body and json", map[string]any{"url": srv.URL, "body": "x", "json": 1}, sdk.CodeInvalid, false},
		{"bad timeout", map[string]any{"url": srv.URL, "timeout": "soon"}, sdk.CodeInvalid, false},
		{"headers of wrong type", map[string]any{"url": srv.URL, "headers": "x"}, sdk.CodeInvalid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := run(p, tt.in)
			if err == nil || err.Code != tt.code || err.Retryable != tt.retryable {
				t.Fatalf("err = %#v, want %s retryable=%v (outputs %v)", err, tt.code, tt.retryable, resp.Outputs)
			}
			if !strings.HasPrefix(err.Message, "plugin http: request") {
				t.Fatalf("message %q", err.Message)
			}
			if strings.HasPrefix(tt.code, "http_") && resp.Outputs["status"] == nil {
				t.Fatalf("status outputs missing on %s", tt.code)
			}
		})
	}
}

func TestRequestLimits(t *testing.T) {
	srv, _ := echoServer(t)
	t.Run("body capped", func(t *testing.T) {
		p := start(t, map[string]any{"max_body_bytes": 10})
		resp, err := run(p, map[string]any{"url": srv.URL + "/big"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Outputs["body"] != `{"data":"x` || resp.Outputs["body_truncated"] != true || resp.Outputs["json"] != nil {
			t.Fatalf("outputs = %v", resp.Outputs)
		}
	})
	t.Run("allowed hosts", func(t *testing.T) {
		p := start(t, map[string]any{"allowed_hosts": []any{"127.0.0.1"}})
		if _, err := run(p, map[string]any{"url": srv.URL + "/echo"}); err != nil {
			t.Fatalf("allowed host refused: %v", err)
		}
		_, err := run(p, map[string]any{"url": strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/echo"})
		if err == nil || err.Code != "host_not_allowed" || err.Retryable {
			t.Fatalf("other host: %#v", err)
		}
		_, err = run(p, map[string]any{"url": srv.URL + "/redirect-away"})
		if err == nil || !strings.Contains(err.Message, "not in allowed_hosts") {
			t.Fatalf("redirect to another host: %#v", err)
		}
	})
	t.Run("bad config", func(t *testing.T) {
		p := plugintest.Start(t, Options()...)
		if _, err := p.Configure(context.Background(), "request", map[string]any{"timeout": "0s"}); err == nil {
			t.Fatal("zero timeout accepted")
		}
		if _, err := p.Configure(context.Background(), "request", map[string]any{"max_body": 1}); err == nil {
			t.Fatal("unknown attribute accepted")
		}
	})
}

func TestRequestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	srv, _ := echoServer(t)
	bin := plugintest.Build(t, ".")
	plugintest.CheckManifest(t, plugintest.Describe(t, bin))
	p := plugintest.StartBinary(t, bin)
	if _, err := p.Configure(context.Background(), "request", nil); err != nil {
		t.Fatal(err)
	}
	resp, err := run(p, map[string]any{"method": "POST", "url": srv.URL + "/echo", "json": map[string]any{"a": 1}})
	if err != nil {
		t.Fatal(err)
	}
	js := resp.Outputs["json"].(map[string]any)
	if js["body"] != `{"a":1}` {
		t.Fatalf("json = %v", js)
	}
}
