package api_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/api"
)

// TestShutdownNotHeldBySilentConnection: a client that connects and sends
// nothing must not hold the shutdown for the whole request timeout (30 s
// here); Shutdown returns after its grace, without an error, and the
// server no longer accepts connections.
func TestShutdownNotHeldBySilentConnection(t *testing.T) {
	srv := api.New(&api.Services{}, api.Options{RequestTimeout: 30 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(served) }()
	addr := ln.Addr().String()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + api.Prefix + "/nope")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not answering: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("shutdown took %s with one silent connection open, want a few seconds", d.Round(time.Millisecond))
	}
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the server still accepts connections after Shutdown")
	}
}
