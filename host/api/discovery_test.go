package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/auth"
	"github.com/heady-dev/heady/host/discovery"
	"github.com/heady-dev/heady/host/registry"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/sdk"
)

// TestDiscoveryRoutes drives the discovery and registry endpoints through
// the real middleware (auth, audit) over a real store.
func TestDiscoveryRoutes(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	al, err := audit.Open(ctx, st, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	au := auth.New(st, auth.Options{})
	tok, _, err := au.Create(ctx, "ops", auth.RoleOperator, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, st, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := discovery.New(st, discovery.Options{HealthInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	eng.SetSources([]discovery.Source{{Name: "fixed", Protocol: "test", Scanner: discovery.ScannerFunc(
		func(context.Context, sdk.Scope) ([]sdk.Service, error) {
			return []sdk.Service{{ID: "svc-1", Name: "one", Kind: "http", Address: "127.0.0.1", Port: 9}}, nil
		})}})
	s := New(&Services{Auth: au, Audit: al, Limiter: auth.NewLimiter(100, time.Minute, time.Minute, time.Now),
		Discovery: &DiscoveryServices{Engine: eng, Registry: reg}}, Options{AnonymousReads: "always"})

	do := func(method, path, token string, body any) (int, string) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req := httptest.NewRequest(method, "/api/v1/automation"+path, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := s.App().Test(req, 10000)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		contains                  string
	}{
		{"register needs a token", http.MethodPost, "/registry/nodes", "", map[string]any{"id": "n1"}, 401, ""},
		{"register rejects a bad id", http.MethodPost, "/registry/nodes", tok, map[string]any{"id": "a b"}, 400, `"field":"id"`},
		{"register", http.MethodPost, "/registry/nodes", tok, map[string]any{"id": "n1", "address": "127.0.0.1:7000", "ttl": "10s", "labels": map[string]string{"zone": "a"}}, 201, `"state":"alive"`},
		{"heartbeat unknown node", http.MethodPost, "/registry/nodes/zz/heartbeat", tok, map[string]any{}, 404, "not_found"},
		{"heartbeat", http.MethodPost, "/registry/nodes/n1/heartbeat", tok, map[string]any{"metrics": map[string]float64{"cpu": 3}, "connections": []string{"127.0.0.1:9"}}, 200, `"cpu":3`},
		{"list by state", http.MethodGet, "/registry/nodes?state=alive", "", nil, 200, `"id":"n1"`},
		{"bad state", http.MethodGet, "/registry/nodes?state=zombie", "", nil, 400, `"field":"state"`},
		{"scan unknown source", http.MethodPost, "/discovery/scan", tok, map[string]any{"source": "nope"}, 400, `"field":"source"`},
		{"scan", http.MethodPost, "/discovery/scan", tok, map[string]any{"source": "fixed"}, 200, `"found":1`},
		{"services", http.MethodGet, "/discovery/services?kind=http", "", nil, 200, `"health_check":"tcp"`},
		{"history", http.MethodGet, "/discovery/history?limit=1", "", nil, 200, `"source":"fixed"`},
		{"topology json has the observed edge", http.MethodGet, "/registry/topology", "", nil, 200, `"kind":"observed"`},
		{"topology dot", http.MethodGet, "/registry/topology?format=dot", "", nil, 200, "digraph heady"},
		{"topology mermaid", http.MethodGet, "/registry/topology?format=mermaid", "", nil, 200, "flowchart LR"},
		{"topology bad format", http.MethodGet, "/registry/topology?format=xml", "", nil, 400, `"field":"format"`},
		{"deregister", http.MethodDelete, "/registry/nodes/n1", tok, nil, 204, ""},
		{"gone", http.MethodGet, "/registry/nodes/n1", "", nil, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(tc.method, tc.path, tc.token, tc.body)
			if status != tc.status || !strings.Contains(body, tc.contains) {
				t.Fatalf("%s %s = %d %s; want %d containing %q", tc.method, tc.path, status, body, tc.status, tc.contains)
			}
		})
	}
	// Audit entries are appended asynchronously: wait for them.
	deadline := time.Now().Add(5 * time.Second)
	for {
		es, _, err := al.List(ctx, audit.Filter{Action: "registry.node.register"})
		if err == nil && len(es) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("register calls audited: %v %d, want 3 (denied, invalid, created)", err, len(es))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
