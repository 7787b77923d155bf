package api

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/auth"
	"github.com/heady-dev/heady/host/store"
)

// TestTokensOnOneConnection is the regression test for a token cache keyed
// by a string that pointed into the request buffer: the next request on the
// same keep-alive connection rewrote the key, so a valid token was refused
// as invalid. Two tokens are used in turn over one connection.
func TestTokensOnOneConnection(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	lg, err := audit.Open(ctx, st, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	as := auth.New(st, auth.Options{})
	var toks []string
	for _, n := range []string{"first", "second", "third"} {
		tok, _, err := as.Create(ctx, n, auth.RoleAdmin, 0, "test")
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	s := New(&Services{Auth: as, Audit: lg}, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer s.Shutdown(ctx)
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for round := 0; round < 20; round++ {
		for i, tok := range toks {
			req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+Prefix+"/tokens", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("round %d token %d: %d", round, i, resp.StatusCode)
			}
		}
	}
}
