package auth

import (
	"context"
	"net/http"
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	_, s, _ := newService(t, Options{})
	ctx := context.Background()
	reader, _, _ := s.Create(ctx, "r", RoleReader, 0, "")
	operator, _, _ := s.Create(ctx, "o", RoleOperator, 0, "")
	admin, _, _ := s.Create(ctx, "a", RoleAdmin, 0, "")
	revoked, rt, _ := s.Create(ctx, "gone", RoleAdmin, 0, "")
	if err := s.Revoke(ctx, rt.ID); err != nil {
		t.Fatal(err)
	}
	bearer := func(p string) string { return "Bearer " + p }
	tests := []struct {
		name        string
		anon        string
		loopback    bool
		req         Request
		status      int
		anonymous   bool
		authFailure bool
	}{
		{"write without token", AnonLoopback, true, Request{Required: RoleOperator}, http.StatusUnauthorized, false, false},
		{"write with bad token", AnonLoopback, true, Request{Authorization: bearer("hdy_nope"), Required: RoleOperator}, http.StatusUnauthorized, false, true},
		{"write with revoked token", AnonLoopback, true, Request{Authorization: bearer(revoked), Required: RoleOperator}, http.StatusUnauthorized, false, true},
		{"write with basic auth", AnonLoopback, true, Request{Authorization: "Basic eDp5", Required: RoleOperator}, http.StatusUnauthorized, false, true},
		{"write with reader token", AnonLoopback, true, Request{Authorization: bearer(reader), Required: RoleOperator}, http.StatusForbidden, false, false},
		{"admin route with operator token", AnonLoopback, true, Request{Authorization: bearer(operator), Required: RoleAdmin}, http.StatusForbidden, false, false},
		{"write with operator token", AnonLoopback, true, Request{Authorization: bearer(operator), Required: RoleOperator}, http.StatusOK, false, false},
		{"admin route with admin token", AnonLoopback, true, Request{Authorization: bearer(admin), Required: RoleAdmin}, http.StatusOK, false, false},
		{"anonymous read on loopback", AnonLoopback, true, Request{}, http.StatusOK, true, false},
		{"anonymous read on a public listener", AnonLoopback, false, Request{}, http.StatusUnauthorized, false, false},
		{"anonymous read always", AnonAlways, false, Request{}, http.StatusOK, true, false},
		{"anonymous read never", AnonNever, true, Request{}, http.StatusUnauthorized, false, false},
		{"read with reader token", AnonNever, false, Request{Authorization: bearer(reader)}, http.StatusOK, false, false},
		{"read with bad token is not anonymous", AnonAlways, true, Request{Authorization: bearer("hdy_nope")}, http.StatusUnauthorized, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGate(s, NewLimiter(10, time.Minute, 5*time.Minute, nil), tt.anon, tt.loopback)
			tt.req.Source = "127.0.0.1"
			d := g.Authorize(ctx, tt.req)
			if d.Status != tt.status || d.Anonymous != tt.anonymous || d.AuthFailure != tt.authFailure {
				t.Fatalf("decision %+v", d)
			}
			if (d.Status == http.StatusOK && !d.Anonymous) != (d.Token != nil) && d.Status != http.StatusForbidden {
				t.Fatalf("token in decision: %+v", d)
			}
		})
	}
}

func TestGateLockout(t *testing.T) {
	_, s, _ := newService(t, Options{})
	ctx := context.Background()
	admin, _, _ := s.Create(ctx, "a", RoleAdmin, 0, "")
	c := newClock()
	g := NewGate(s, NewLimiter(3, time.Minute, 5*time.Minute, c.Now), AnonLoopback, true)
	bad := Request{Authorization: "Bearer hdy_0000000000000000_" + "00000000000000000000000000000000000000000000000000000000000000ff", Source: "127.0.0.2", Required: RoleOperator}
	for i, want := range []struct {
		status int
		locked bool
	}{{401, false}, {401, false}, {401, true}, {429, false}} {
		d := g.Authorize(ctx, bad)
		if d.Status != want.status || d.LockedOut != want.locked {
			t.Fatalf("attempt %d: %+v", i+1, d)
		}
	}
	// Even the right token is refused from a locked source, with a retry time.
	d := g.Authorize(ctx, Request{Authorization: "Bearer " + admin, Source: "127.0.0.2", Required: RoleAdmin})
	if d.Status != http.StatusTooManyRequests || d.RetryAfter != 5*time.Minute {
		t.Fatalf("locked source with a good token: %+v", d)
	}
	// Another source is unaffected.
	if d := g.Authorize(ctx, Request{Authorization: "Bearer " + admin, Source: "127.0.0.3", Required: RoleAdmin}); d.Status != http.StatusOK {
		t.Fatalf("other source: %+v", d)
	}
	c.Add(5 * time.Minute)
	if d := g.Authorize(ctx, Request{Authorization: "Bearer " + admin, Source: "127.0.0.2", Required: RoleAdmin}); d.Status != http.StatusOK {
		t.Fatalf("after the lockout: %+v", d)
	}
}

func TestIsLoopbackListen(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:3000", true},
		{"127.1.2.3:3000", true},
		{"[::1]:3000", true},
		{"localhost:3000", true},
		{":3000", false},
		{"0.0.0.0:3000", false},
		{"[::]:3000", false},
		{"192.168.1.10:3000", false},
		{"example.com:3000", false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := IsLoopbackListen(tt.addr); got != tt.want {
				t.Fatalf("IsLoopbackListen(%q) = %v", tt.addr, got)
			}
		})
	}
	if SourceOf("127.0.0.1:5555") != "127.0.0.1" || SourceOf("[::1]:80") != "::1" || SourceOf("weird") != "weird" {
		t.Fatal("SourceOf")
	}
}
