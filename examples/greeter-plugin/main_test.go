package main

import (
	"context"
	"testing"

	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

func TestManifest(t *testing.T) {
	m, err := sdk.ManifestOf(Options()...)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.CheckManifest(t, m)
}

func TestHello(t *testing.T) {
	tests := []struct {
		name    string
		config  map[string]any
		inputs  map[string]any
		want    string
		wantErr string
	}{
		{name: "default greeting", inputs: map[string]any{"name": "Ada"}, want: "Hello, Ada!"},
		{name: "configured greeting", config: map[string]any{"greeting": "Howdy"}, inputs: map[string]any{"name": "Ada"}, want: "Howdy, Ada!"},
		{name: "shout", config: map[string]any{"shout": true}, inputs: map[string]any{"name": "Ada"}, want: "HELLO, ADA!"},
		{name: "missing name", inputs: map[string]any{}, wantErr: "permanent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plugintest.Start(t, Options()...)
			ctx := context.Background()
			if _, err := p.Configure(ctx, "hello", tt.config); err != nil {
				t.Fatalf("configure: %v", err)
			}
			resp, err := p.RunAction(ctx, sdk.ActionRequest{Component: "hello", Inputs: tt.inputs})
			if tt.wantErr != "" {
				e := sdk.AsError(err)
				if e == nil || e.Code != tt.wantErr || e.Retryable {
					t.Fatalf("err = %#v, want code %s, not retryable", e, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if got := resp.Outputs["message"]; got != tt.want {
				t.Fatalf("message = %v, want %q", got, tt.want)
			}
			if len(resp.Logs) != 1 {
				t.Fatalf("logs = %v, want one line", resp.Logs)
			}
		})
	}
}

func TestHelloCountsInHostKV(t *testing.T) {
	p := plugintest.Start(t, Options()...)
	ctx := context.Background()
	if _, err := p.Configure(ctx, "hello", nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		resp, err := p.RunAction(ctx, sdk.ActionRequest{Component: "hello", Inputs: map[string]any{"name": "Ada"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Outputs["count"]; got != float64(i) {
			t.Fatalf("call %d: count = %v", i, got)
		}
	}
	if got := string(p.Host.KV()["count/Ada"]); got != "3" {
		t.Fatalf("kv count/Ada = %q, want 3", got)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]any
	}{
		{"wrong type", map[string]any{"shout": "yes"}},
		{"unknown attribute", map[string]any{"greting": "Hi"}},
		{"empty greeting", map[string]any{"greeting": " "}},
	}
	p := plugintest.Start(t, Options()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := p.Configure(context.Background(), "hello", tt.config); err == nil {
				t.Fatal("configure succeeded, want an error")
			}
		})
	}
}

func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	bin := plugintest.Build(t, ".")
	plugintest.CheckManifest(t, plugintest.Describe(t, bin))
	p := plugintest.StartBinary(t, bin)
	ctx := context.Background()
	if _, err := p.Configure(ctx, "hello", map[string]any{"greeting": "Hi"}); err != nil {
		t.Fatal(err)
	}
	resp, err := p.RunAction(ctx, sdk.ActionRequest{Component: "hello", Inputs: map[string]any{"name": "Grace"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Outputs["message"] != "Hi, Grace!" {
		t.Fatalf("message = %v", resp.Outputs["message"])
	}
}
