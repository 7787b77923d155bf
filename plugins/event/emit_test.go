package main

import (
	"context"
	"reflect"
	"testing"

	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

func TestEmit(t *testing.T) {
	p := plugintest.Start(t, Options()...)
	plugintest.CheckManifest(t, p.Manifest)
	if _, err := p.Configure(context.Background(), "emit", nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      map[string]any
		code    string
		want    plugintest.Event
		emitted bool
	}{
		{name: "with data", in: map[string]any{"type": "order.shipped", "data": map[string]any{"id": "o1", "n": 2.0}}, want: plugintest.Event{Type: "order.shipped", Data: map[string]any{"id": "o1", "n": 2.0}}, emitted: true},
		{name: "without data", in: map[string]any{"type": "cache.cleared"}, want: plugintest.Event{Type: "cache.cleared"}, emitted: true},
		{name: "missing type", in: map[string]any{"data": map[string]any{}}, code: sdk.CodeInvalid},
		{name: "bad type", in: map[string]any{"type": "Not A Type"}, code: sdk.CodeInvalid},
		{name: "data not an object", in: map[string]any{"type": "a.b", "data": []any{1}}, code: sdk.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(p.Host.Events())
			resp, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: "emit", Inputs: tt.in})
			evs := p.Host.Events()
			if tt.code != "" {
				if e := sdk.AsError(err); e == nil || e.Code != tt.code || e.Retryable {
					t.Fatalf("err = %#v", e)
				}
				if len(evs) != n {
					t.Fatal("an invalid event was emitted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != n+1 {
				t.Fatalf("%d events, want %d", len(evs), n+1)
			}
			got := evs[len(evs)-1]
			if got.Type != tt.want.Type || (tt.want.Data != nil && !reflect.DeepEqual(got.Data, tt.want.Data)) || (tt.want.Data == nil && len(got.Data) != 0) {
				t.Fatalf("emitted %#v, want %#v", got, tt.want)
			}
			if resp.Outputs["type"] != tt.want.Type {
				t.Fatalf("outputs = %v", resp.Outputs)
			}
		})
	}
}

func TestEmitBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := plugintest.Build(t, ".")
	plugintest.CheckManifest(t, plugintest.Describe(t, bin))
	p := plugintest.StartBinary(t, bin)
	if _, err := p.Configure(context.Background(), "emit", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: "emit", Inputs: map[string]any{"type": "a.b", "data": map[string]any{"k": "v"}}}); err != nil {
		t.Fatal(err)
	}
	evs := p.Host.Events()
	if len(evs) != 1 || evs[0].Type != "a.b" || evs[0].Data["k"] != "v" {
		t.Fatalf("events = %v", evs)
	}
}
