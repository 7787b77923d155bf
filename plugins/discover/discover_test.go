package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/heady-dev/heady/plugins/internal/readmetest"
	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

func TestManifest(t *testing.T) {
	m, err := sdk.ManifestOf(Options()...)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.CheckManifest(t, m)
	if len(m.Components) != 4 {
		t.Fatalf("components = %d, want 4", len(m.Components))
	}
}

// TestREADME parses every hcl example in the README and checks it against
// the manifest.
func TestREADME(t *testing.T) {
	m, err := sdk.ManifestOf(Options()...)
	if err != nil {
		t.Fatal(err)
	}
	readmetest.Check(t, "README.md", m)
}

// TestScanOverGRPC runs discover.http over real gRPC against a Go server on
// loopback and discover.local against a fake registry API served by a
// real HTTP server.
func TestScanOverGRPC(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/api/v1/automation/registry/nodes", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"items":[{"id":"n1","name":"web-1","address":"127.0.0.1:3000","state":"alive","services":[{"id":"api","name":"api","port":8080}]}]}`)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	p := plugintest.Start(t, Options()...)
	ctx := context.Background()
	cases := []struct {
		name   string
		comp   string
		config map[string]any
		scope  sdk.Scope
		check  func(t *testing.T, svcs []sdk.Service)
	}{
		{"http", "http", nil, sdk.Scope{Name: "t", Targets: []string{"127.0.0.1"}, Ports: []int{port}}, func(t *testing.T, svcs []sdk.Service) {
			if len(svcs) != 1 || svcs[0].Metadata["health_url"] != fmt.Sprintf("http://127.0.0.1:%d/healthz", port) {
				t.Fatalf("%+v", svcs)
			}
		}},
		{"http rejects a /16", "http", nil, sdk.Scope{Name: "t", Targets: []string{"10.0.0.0/16"}}, nil},
		{"local", "local", map[string]any{"server": fmt.Sprintf("http://127.0.0.1:%d", port)}, sdk.Scope{Name: "l"}, func(t *testing.T, svcs []sdk.Service) {
			if len(svcs) != 2 || svcs[0].ID != "node-n1" || svcs[1].ID != "local-n1-api" || svcs[1].Address != "127.0.0.1" {
				t.Fatalf("%+v", svcs)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.Configure(ctx, tc.comp, tc.config); err != nil {
				t.Fatal(err)
			}
			svcs, _, err := p.Scan(ctx, tc.comp, tc.scope)
			if tc.check == nil {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, svcs)
		})
	}
}
