package main

import (
	"context"
	"testing"

	"github.com/heady-dev/heady/sdk"
)

// BenchmarkRequest measures one http.request step over real gRPC against a
// loopback server: plugin call, JSON encode, HTTP round trip, JSON decode.
func BenchmarkRequest(b *testing.B) {
	srv, _ := echoServerB(b)
	p := start(b, nil)
	req := sdk.ActionRequest{Component: "request", Inputs: map[string]any{"method": "POST", "url": srv + "/echo", "json": map[string]any{"user_id": "u1"}}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.RunAction(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
