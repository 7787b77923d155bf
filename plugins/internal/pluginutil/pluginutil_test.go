package pluginutil

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/heady-dev/heady/sdk"
)

func TestSignature(t *testing.T) {
	body := []byte(`{"a":1}`)
	// Known answer: HMAC-SHA256("key", `{"a":1}`).
	const want = "sha256=88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342"
	got := Sign("key", body)
	if got != want {
		t.Fatalf("Sign = %q", got)
	}
	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		ok     bool
	}{
		{"valid", "key", body, got, true},
		{"valid with spaces", "key", body, " " + got + " ", true},
		{"wrong secret", "other", body, got, false},
		{"changed body", "key", []byte(`{"a":2}`), got, false},
		{"empty header", "key", body, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if VerifySignature(tt.secret, tt.body, tt.header) != tt.ok {
				t.Fatalf("VerifySignature = %v", !tt.ok)
			}
		})
	}
}

func TestCheckHost(t *testing.T) {
	tests := []struct {
		allowed []string
		url     string
		ok      bool
	}{
		{nil, "http://anything.example/x", true},
		{[]string{"127.0.0.1"}, "http://127.0.0.1:8090/", true},
		{[]string{"127.0.0.1:9000"}, "http://127.0.0.1:8090/", false},
		{[]string{"127.0.0.1:8090"}, "http://127.0.0.1:8090/", true},
		{[]string{"*.example.com"}, "https://api.example.com/", true},
		{[]string{"*.example.com"}, "https://example.com.evil.net/", false},
		{[]string{"Example.COM"}, "https://example.com/", true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, _ := url.Parse(tt.url)
			err := CheckHost(tt.allowed, u)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckHost(%v, %s) = %v", tt.allowed, tt.url, err)
			}
		})
	}
}

func TestClassification(t *testing.T) {
	tests := []struct {
		status    int
		retryable bool
	}{{500, true}, {503, true}, {429, true}, {404, false}, {400, false}, {301, false}}
	for _, tt := range tests {
		e := sdk.AsError(StatusError("p", tt.status, ""))
		if e.Retryable != tt.retryable || e.Code != "http_"+strconv.Itoa(tt.status) {
			t.Errorf("status %d: %#v", tt.status, e)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if e := sdk.AsError(TransportError(ctx, "p", context.Canceled)); e.Code != sdk.CodeCanceled {
		t.Errorf("canceled: %#v", e)
	}
	if e := sdk.AsError(TransportError(context.Background(), "p", errors.New("connection refused"))); e.Code != sdk.CodeUnavailable || !e.Retryable {
		t.Errorf("refused: %#v", e)
	}
	if e := sdk.AsError(TransportError(context.Background(), "p", context.DeadlineExceeded)); e.Code != sdk.CodeTimeout {
		t.Errorf("deadline: %#v", e)
	}
}

func TestInputs(t *testing.T) {
	schema := sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "url", Type: sdk.TypeString, Required: true},
		{Name: "method", Type: sdk.TypeString, Default: "GET"},
		{Name: "json", Type: sdk.TypeAny},
	}}
	tests := []struct {
		name string
		in   map[string]any
		want map[string]any
		ok   bool
	}{
		{"defaults", map[string]any{"url": "u"}, map[string]any{"url": "u", "method": "GET"}, true},
		{"null is unset", map[string]any{"url": "u", "method": nil, "json": nil}, map[string]any{"url": "u", "method": "GET"}, true},
		{"missing required", map[string]any{"method": "POST"}, nil, false},
		{"null required", map[string]any{"url": nil}, nil, false},
		{"wrong type", map[string]any{"url": 1}, nil, false},
		{"unknown", map[string]any{"url": "u", "nope": 1}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Inputs("p", schema, tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if e := sdk.AsError(err); e.Code != sdk.CodeInvalid || e.Retryable || !strings.HasPrefix(e.Message, "p: inputs: ") {
					t.Fatalf("err = %#v", e)
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}
