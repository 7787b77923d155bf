package main

import (
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

func TestNoop(t *testing.T) {
	p := plugintest.Start(t, Options()...)
	plugintest.CheckManifest(t, p.Manifest)
	ctx := context.Background()
	if _, err := p.Configure(ctx, "ok", nil); err != nil {
		t.Fatalf("configure: %v", err)
	}
	tests := []struct {
		name   string
		inputs map[string]any
	}{
		{"empty", nil},
		{"scalar", map[string]any{"value": "hello"}},
		{"nested", map[string]any{"value": map[string]any{"a": []any{1.0, "x", true}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := p.RunAction(ctx, sdk.ActionRequest{Component: "ok", Inputs: tt.inputs})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if !reflect.DeepEqual(resp.Outputs, tt.inputs) {
				t.Fatalf("outputs = %#v, want %#v", resp.Outputs, tt.inputs)
			}
		})
	}
}

func TestNoopBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := plugintest.Build(t, ".")
	// Run by hand, the binary explains itself instead of hanging.
	out, err := exec.Command(bin).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "This program is a Heady plugin (noop") {
		t.Fatalf("running the binary directly: %v\n%s", err, out)
	}
	m := plugintest.Describe(t, bin)
	plugintest.CheckManifest(t, m)
	p := plugintest.StartBinary(t, bin)
	ctx := context.Background()
	if _, err := p.Configure(ctx, "ok", nil); err != nil {
		t.Fatalf("configure: %v", err)
	}
	resp, err := p.RunAction(ctx, sdk.ActionRequest{Component: "ok", Inputs: map[string]any{"value": 1.5}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if resp.Outputs["value"] != 1.5 {
		t.Fatalf("outputs = %v", resp.Outputs)
	}
}
