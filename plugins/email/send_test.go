package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/heady-dev/heady/plugins/internal/mailer/smtptest"
	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

func configure(t *testing.T, p *plugintest.Plugin, cfg map[string]any) {
	t.Helper()
	if _, err := p.Configure(context.Background(), "send", cfg); err != nil {
		t.Fatalf("configure: %v", err)
	}
}

func run(p *plugintest.Plugin, inputs map[string]any) (sdk.ActionResponse, *sdk.Error) {
	resp, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: "send", Inputs: inputs, IdempotencyKey: "exec1/welcome/1"})
	return resp, sdk.AsError(err)
}

func TestSendPlain(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	p := plugintest.Start(t, Options()...)
	plugintest.CheckManifest(t, p.Manifest)
	configure(t, p, map[string]any{"smtp_addr": srv.Addr, "from": "Heady <heady@example.com>"})
	tests := []struct {
		name     string
		inputs   map[string]any
		wantRcpt []string
		contains []string
	}{
		{
			name:     "single recipient",
			inputs:   map[string]any{"to": "ada@example.com", "subject": "Welcome to your new workspace", "body": "Hello Ada, your workspace is ready."},
			wantRcpt: []string{"ada@example.com"},
			contains: []string{"Subject: Welcome to your new workspace", "To: <ada@example.com>", "From: \"Heady\" <heady@example.com>", "Hello Ada, your workspace is ready.", "Message-ID: <"},
		},
		{
			name:     "list and cc",
			inputs:   map[string]any{"to": []any{"a@example.com", "B <b@example.com>"}, "cc": "c@example.com", "subject": "Hi", "body": "x", "from": "ops@example.org"},
			wantRcpt: []string{"a@example.com", "b@example.com", "c@example.com"},
			contains: []string{"Cc: <c@example.com>", "From: <ops@example.org>", "@example.org>"},
		},
		{
			name:     "html alternative and utf-8 subject",
			inputs:   map[string]any{"to": "ada@example.com", "subject": "Grüße", "body": "plain", "html": "<p>rich</p>"},
			wantRcpt: []string{"ada@example.com"},
			contains: []string{"multipart/alternative", "text/html", "<p>rich</p>", "=?utf-8?q?Gr=C3=BC=C3=9Fe?="},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := run(p, tt.inputs)
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			msgs := srv.Messages()
			if len(msgs) != i+1 {
				t.Fatalf("server has %d messages, want %d", len(msgs), i+1)
			}
			m := msgs[i]
			if !reflect.DeepEqual(m.To, tt.wantRcpt) {
				t.Fatalf("envelope to = %v, want %v", m.To, tt.wantRcpt)
			}
			for _, c := range tt.contains {
				if !strings.Contains(m.Data, c) {
					t.Errorf("message lacks %q:\n%s", c, m.Data)
				}
			}
			if got := resp.Outputs["accepted"]; !reflect.DeepEqual(got, toAny(tt.wantRcpt)) {
				t.Fatalf("accepted = %v", got)
			}
			id, _ := resp.Outputs["message_id"].(string)
			if id == "" || !strings.Contains(m.Data, "Message-ID: "+id) {
				t.Fatalf("message_id %q not in message", id)
			}
			if resp.Outputs["tls"] != false {
				t.Fatalf("tls = %v on a plain server", resp.Outputs["tls"])
			}
		})
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func TestSendTLSAndAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{TLS: true, Username: "heady", Password: "s3cret"})
	plain := smtptest.Start(t, smtptest.Options{Username: "heady", Password: "s3cret"})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	msg := map[string]any{"to": "ada@example.com", "subject": "s", "body": "b"}
	tests := []struct {
		name     string
		cfg      map[string]any
		wantCode string // "" means success
		wantTLS  bool
		server   *smtptest.Server
	}{
		{"starttls with trusted ca and auth", map[string]any{"smtp_addr": srv.Addr, "starttls": "always", "ca_file": ca, "username": "heady", "password": "s3cret"}, "", true, srv},
		{"starttls auto upgrades", map[string]any{"smtp_addr": srv.Addr, "ca_file": ca, "username": "heady", "password": "s3cret"}, "", true, srv},
		{"skip verify", map[string]any{"smtp_addr": srv.Addr, "tls_skip_verify": true, "username": "heady", "password": "s3cret"}, "", true, srv},
		{"untrusted certificate", map[string]any{"smtp_addr": srv.Addr, "username": "heady", "password": "s3cret"}, "smtp_tls", false, srv},
		{"wrong password", map[string]any{"smtp_addr": srv.Addr, "ca_file": ca, "username": "heady", "password": "nope"}, "smtp_auth", false, srv},
		{"auth required", map[string]any{"smtp_addr": srv.Addr, "ca_file": ca}, "smtp_530", false, srv},
		{"plain auth on loopback", map[string]any{"smtp_addr": plain.Addr, "starttls": "never", "username": "heady", "password": "s3cret"}, "", false, plain},
		{"always without starttls offered", map[string]any{"smtp_addr": plain.Addr, "starttls": "always", "username": "heady", "password": "s3cret"}, "smtp_no_starttls", false, plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plugintest.Start(t, Options()...)
			configure(t, p, tt.cfg)
			before := len(tt.server.Messages())
			resp, err := run(p, msg)
			if tt.wantCode != "" {
				if err == nil || err.Code != tt.wantCode || err.Retryable {
					t.Fatalf("err = %#v, want permanent %s", err, tt.wantCode)
				}
				if n := len(tt.server.Messages()); n != before {
					t.Fatalf("a message was delivered despite the failure")
				}
				return
			}
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			msgs := tt.server.Messages()
			if len(msgs) != before+1 {
				t.Fatalf("no message captured")
			}
			last := msgs[len(msgs)-1]
			if last.TLS != tt.wantTLS || resp.Outputs["tls"] != tt.wantTLS {
				t.Fatalf("tls: server saw %v, output %v, want %v", last.TLS, resp.Outputs["tls"], tt.wantTLS)
			}
			if last.User != "heady" {
				t.Fatalf("authenticated as %q", last.User)
			}
		})
	}
}

func TestSendRecipientsAndFailures(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{RejectRcpt: []string{"gone@example.com"}, TempFailRcpt: []string{"busy@example.com"}})
	p := plugintest.Start(t, Options()...)
	configure(t, p, map[string]any{"smtp_addr": srv.Addr})

	resp, err := run(p, map[string]any{"to": []any{"ok@example.com", "gone@example.com"}, "subject": "s"})
	if err != nil {
		t.Fatalf("partial send: %v", err)
	}
	if !reflect.DeepEqual(resp.Outputs["accepted"], []any{"ok@example.com"}) || !reflect.DeepEqual(resp.Outputs["rejected"], []any{"gone@example.com"}) {
		t.Fatalf("outputs = %v", resp.Outputs)
	}

	tests := []struct {
		name      string
		inputs    map[string]any
		code      string
		retryable bool
	}{
		{"every recipient refused", map[string]any{"to": "gone@example.com", "subject": "s"}, "smtp_550", false},
		{"temporary failure", map[string]any{"to": "busy@example.com", "subject": "s"}, "smtp_451", true},
		{"missing to", map[string]any{"subject": "s"}, sdk.CodeInvalid, false},
		{"bad address", map[string]any{"to": "not an address", "subject": "s"}, sdk.CodeInvalid, false},
		{"header injection", map[string]any{"to": "a@example.com", "subject": "s\r\nBcc: x@example.com"}, sdk.CodeInvalid, false},
		{"to of wrong type", map[string]any{"to": 42, "subject": "s"}, sdk.CodeInvalid, false},
		{"unknown input", map[string]any{"to": "a@example.com", "subject": "s", "bcc": "x"}, sdk.CodeInvalid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(p, tt.inputs)
			if err == nil || err.Code != tt.code || err.Retryable != tt.retryable {
				t.Fatalf("err = %#v, want code %s retryable %v", err, tt.code, tt.retryable)
			}
			if !strings.HasPrefix(err.Message, "plugin email: send") {
				t.Fatalf("message not prefixed: %q", err.Message)
			}
		})
	}

	// A server that is not there: retryable.
	ln, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		t.Fatal(lerr)
	}
	addr := ln.Addr().String()
	ln.Close()
	down := plugintest.Start(t, Options()...)
	configure(t, down, map[string]any{"smtp_addr": addr, "timeout": "2s"})
	_, err = run(down, map[string]any{"to": "a@example.com", "subject": "s"})
	if err == nil || err.Code != sdk.CodeUnavailable || !err.Retryable {
		t.Fatalf("down server: %#v", err)
	}
}

func TestConfigureRejectsBadConfig(t *testing.T) {
	p := plugintest.Start(t, Options()...)
	tests := []struct {
		name string
		cfg  map[string]any
	}{
		{"bad starttls", map[string]any{"starttls": "sometimes"}},
		{"bad addr", map[string]any{"smtp_addr": "nowhere"}},
		{"bad from", map[string]any{"from": "@@"}},
		{"password without user", map[string]any{"password": "x"}},
		{"missing ca file", map[string]any{"ca_file": filepath.Join(t.TempDir(), "none.pem")}},
		{"typo", map[string]any{"smtp_adr": "127.0.0.1:25"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Configure(context.Background(), "send", tt.cfg)
			var se *sdk.Error
			if !errors.As(err, &se) || se.Code != sdk.CodeInvalid && se.Code != sdk.CodeError {
				t.Fatalf("err = %#v", err)
			}
		})
	}
}

func TestSendBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	srv := smtptest.Start(t, smtptest.Options{TLS: true})
	bin := plugintest.Build(t, ".")
	plugintest.CheckManifest(t, plugintest.Describe(t, bin))
	p := plugintest.StartBinary(t, bin)
	configure(t, p, map[string]any{"smtp_addr": srv.Addr, "tls_skip_verify": true})
	resp, err := run(p, map[string]any{"to": "ada@example.com", "subject": "s", "body": "b"})
	if err != nil || resp.Outputs["tls"] != true || len(srv.Messages()) != 1 {
		t.Fatalf("resp %v err %v messages %d", resp.Outputs, err, len(srv.Messages()))
	}
}
