package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heady-dev/heady/plugins/internal/mailer/smtptest"
	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

func start(t *testing.T, cfg map[string]any) *plugintest.Plugin {
	t.Helper()
	p := plugintest.Start(t, Options()...)
	if _, err := p.Configure(context.Background(), "send", cfg); err != nil {
		t.Fatalf("configure: %v", err)
	}
	return p
}

func send(p *plugintest.Plugin, in map[string]any) (map[string]any, *sdk.Error) {
	resp, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: "send", Inputs: in, Workflow: "health_check", ExecutionID: "e1", IdempotencyKey: "e1/alert/1"})
	return resp.Outputs, sdk.AsError(err)
}

func TestLogChannelAndDedupe(t *testing.T) {
	p := start(t, nil)
	plugintest.CheckManifest(t, p.Manifest)
	alert := map[string]any{"severity": "warning", "title": "Heady: unhealthy components", "message": "Unhealthy: db"}
	out, err := send(p, alert)
	if err != nil {
		t.Fatal(err)
	}
	if out["delivered"] != true || out["channel"] != "log" || out["deduplicated"] != false {
		t.Fatalf("outputs = %v", out)
	}
	logs := p.Host.Logs()
	if len(logs) != 1 || logs[0].Level != slog.LevelWarn || !strings.Contains(logs[0].Message, "Unhealthy: db") || logs[0].Fields["title"] != "Heady: unhealthy components" {
		t.Fatalf("logs = %#v", logs)
	}

	// The same alert again within the window is suppressed.
	out, err = send(p, alert)
	if err != nil || out["delivered"] != false || out["deduplicated"] != true {
		t.Fatalf("repeat: %v %v", out, err)
	}
	if n := len(p.Host.Logs()); n != 1 {
		t.Fatalf("repeat was logged (%d lines)", n)
	}
	// A different message is not a repeat.
	other := map[string]any{"severity": "error", "title": alert["title"], "message": "Unhealthy: cache"}
	if out, err = send(p, other); err != nil || out["delivered"] != true {
		t.Fatalf("other: %v %v", out, err)
	}
	if l := p.Host.Logs()[1]; l.Level != slog.LevelError {
		t.Fatalf("level = %v", l.Level)
	}
	// Once the window has passed (the remembered time is older than it),
	// the alert goes out again.
	key := DedupeKey("Heady: unhealthy components", "Unhealthy: db")
	if _, ok := p.Host.KV()[key]; !ok {
		t.Fatalf("dedupe state not kept in the host KV: %v", p.Host.KV())
	}
	old := strconv.FormatInt(time.Now().Add(-11*time.Minute).UnixNano(), 10)
	if err := p.Host.KVPut(context.Background(), key, []byte(old)); err != nil {
		t.Fatal(err)
	}
	if out, err = send(p, alert); err != nil || out["delivered"] != true || out["deduplicated"] != false {
		t.Fatalf("after window: %v %v", out, err)
	}

	t.Run("window disabled", func(t *testing.T) {
		q := start(t, map[string]any{"dedupe_window": "0s"})
		for i := range 3 {
			if out, err := send(q, alert); err != nil || out["delivered"] != true {
				t.Fatalf("send %d: %v %v", i, out, err)
			}
		}
		if len(q.Host.Logs()) != 3 {
			t.Fatalf("logs = %d", len(q.Host.Logs()))
		}
	})
}

func TestWebhookChannel(t *testing.T) {
	var status atomic.Int64
	status.Store(200)
	var mu sync.Mutex
	var bodies []map[string]any
	var sigOK []bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		bodies = append(bodies, m)
		sigOK = append(sigOK, pluginutil.VerifySignature("hook-secret", b, r.Header.Get("X-Heady-Signature-256")))
		mu.Unlock()
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	p := start(t, map[string]any{"channel": "webhook", "webhook_url": srv.URL, "webhook_secret": "hook-secret"})
	alert := map[string]any{"severity": "error", "title": "User onboarding failed", "message": "for user u1"}

	status.Store(503)
	out, err := send(p, alert)
	if err == nil || err.Code != "http_503" || !err.Retryable || out["delivered"] != false {
		t.Fatalf("503: %v %#v", out, err)
	}
	// A failed delivery is not remembered: the retry goes out.
	status.Store(200)
	out, err = send(p, alert)
	if err != nil || out["delivered"] != true || out["channel"] != "webhook" {
		t.Fatalf("retry: %v %v", out, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || !sigOK[1] {
		t.Fatalf("bodies %v sig %v", bodies, sigOK)
	}
	if b := bodies[1]; b["title"] != "User onboarding failed" || b["severity"] != "error" || b["workflow"] != "health_check" {
		t.Fatalf("payload = %v", b)
	}
}

func TestEmailChannel(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	p := start(t, map[string]any{"smtp_addr": srv.Addr, "email_to": []any{"ops@example.com"}})
	out, err := send(p, map[string]any{"channel": "email", "severity": "critical", "title": "Disk full", "message": "99% on /var"})
	if err != nil || out["delivered"] != true || out["channel"] != "email" {
		t.Fatalf("send: %v %v", out, err)
	}
	out, err = send(p, map[string]any{"channel": "email", "title": "Other", "to": []any{"a@example.com", "b@example.com"}})
	if err != nil || out["delivered"] != true {
		t.Fatalf("send with to: %v %v", out, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	if !strings.Contains(msgs[0].Data, "Subject: [CRITICAL] Disk full") || !strings.Contains(msgs[0].Data, "99% on /var") || msgs[0].To[0] != "ops@example.com" {
		t.Fatalf("message = %+v", msgs[0])
	}
	if len(msgs[1].To) != 2 {
		t.Fatalf("recipients = %v", msgs[1].To)
	}
}

func TestInvalid(t *testing.T) {
	p := start(t, nil)
	tests := []struct {
		name string
		in   map[string]any
	}{
		{"bad severity", map[string]any{"title": "t", "severity": "meh"}},
		{"bad channel", map[string]any{"title": "t", "channel": "pigeon"}},
		{"webhook without url", map[string]any{"title": "t", "channel": "webhook"}},
		{"email without to", map[string]any{"title": "t", "channel": "email"}},
		{"missing title", map[string]any{"message": "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := send(p, tt.in)
			if err == nil || err.Code != sdk.CodeInvalid || err.Retryable {
				t.Fatalf("err = %#v (out %v)", err, out)
			}
		})
	}
	for name, cfg := range map[string]map[string]any{
		"bad channel":     {"channel": "pigeon"},
		"negative window": {"dedupe_window": "-1m"},
		"bad webhook url": {"webhook_url": "ftp://x"},
		"bad smtp addr":   {"smtp_addr": "nowhere"},
	} {
		t.Run("config "+name, func(t *testing.T) {
			q := plugintest.Start(t, Options()...)
			if _, err := q.Configure(context.Background(), "send", cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestNotifyBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := plugintest.Build(t, ".")
	plugintest.CheckManifest(t, plugintest.Describe(t, bin))
	p := plugintest.StartBinary(t, bin)
	if _, err := p.Configure(context.Background(), "send", nil); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		out, err := send(p, map[string]any{"title": "t", "message": "m"})
		if err != nil || out["delivered"] != want || out["deduplicated"] != !want {
			t.Fatalf("call %d: %v %v", i, out, err)
		}
	}
	if len(p.Host.Logs()) != 1 || len(p.Host.KV()) != 1 {
		t.Fatalf("logs %v kv %v", p.Host.Logs(), p.Host.KV())
	}
}
