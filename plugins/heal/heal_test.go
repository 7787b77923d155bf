package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

type maint struct {
	mu  sync.Mutex
	ops []string
	arg []map[string]any
}

func (m *maint) do(_ context.Context, op string, args map[string]any) (map[string]any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops = append(m.ops, op)
	m.arg = append(m.arg, args)
	return map[string]any{"message": op + " ok", "heap_alloc_before": 10.0, "heap_alloc_after": 5.0}, nil
}

func start(t *testing.T) (*plugintest.Plugin, *maint) {
	t.Helper()
	p := plugintest.Start(t, Options()...)
	m := &maint{}
	p.Host.MaintenanceFunc = m.do
	ctx := context.Background()
	for _, c := range p.Manifest.Components {
		if _, err := p.Configure(ctx, c.Name, nil); err != nil {
			t.Fatalf("configure %s: %v", c.Name, err)
		}
	}
	return p, m
}

func TestManifest(t *testing.T) {
	m, err := sdk.ManifestOf(Options()...)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.CheckManifest(t, m)
	want := []string{"restart", "clear_caches", "run_workflow", "recycle", "exec", "wait_retry", "alert"}
	for _, n := range want {
		c, ok := m.Component(n)
		if !ok || c.Kind != sdk.KindHealer {
			t.Errorf("component %s: %+v %v", n, c, ok)
		}
	}
}

func TestHealers(t *testing.T) {
	p, m := start(t)
	ctx := context.Background()
	dir := t.TempDir()
	marker := filepath.Join(dir, "done")
	var posted int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posted++
		mu.Unlock()
		if r.Method != http.MethodPost {
			w.WriteHeader(405)
		}
	}))
	defer srv.Close()
	tests := []struct {
		name     string
		comp     string
		inc      sdk.Incident
		healed   bool
		wantErr  string
		wantOp   string
		wantMsg  string
		notified bool
	}{
		{name: "restart a supervised service", comp: "restart", inc: sdk.Incident{Check: "api", Options: map[string]any{"service": "api"}},
			healed: true, wantOp: "service.restart", wantMsg: "restarted service api"},
		{name: "restart defaults to the process check's service", comp: "restart", inc: sdk.Incident{Check: "p", Kind: "process", Component: "worker"},
			healed: true, wantOp: "service.restart", wantMsg: "worker"},
		{name: "restart without a target", comp: "restart", inc: sdk.Incident{Check: "x", Kind: "http"}, wantErr: "no service"},
		{name: "restart through a command", comp: "restart", inc: sdk.Incident{Options: map[string]any{"command": []any{"touch", marker}}},
			healed: true, wantMsg: "exit status 0"},
		{name: "restart through a url", comp: "restart", inc: sdk.Incident{Options: map[string]any{"url": srv.URL}}, healed: true, wantMsg: "status 200"},
		{name: "clear caches", comp: "clear_caches", inc: sdk.Incident{Check: "memory"}, healed: true, wantOp: "caches.clear"},
		{name: "recycle", comp: "recycle", inc: sdk.Incident{Check: "pool"}, healed: true, wantOp: "connections.recycle"},
		{name: "exec ok", comp: "exec", inc: sdk.Incident{Options: map[string]any{"command": []any{"true"}}}, healed: true},
		{name: "exec fails", comp: "exec", inc: sdk.Incident{Options: map[string]any{"command": []any{"sh", "-c", "exit 4"}}}, healed: false, wantMsg: "exit status 4"},
		{name: "exec needs a command", comp: "exec", inc: sdk.Incident{}, wantErr: "command"},
		{name: "wait and retry", comp: "wait_retry", inc: sdk.Incident{Attempt: 1, Options: map[string]any{"initial_delay": "10ms"}}, healed: true, wantMsg: "waited 10ms"},
		{name: "alert", comp: "alert", inc: sdk.Incident{Check: "disk", Message: "full"}, wantOp: "alert.raise", notified: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m.mu.Lock()
			before := len(m.ops)
			m.mu.Unlock()
			out, err := p.Heal(ctx, tc.comp, tc.inc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.Healed != tc.healed || !strings.Contains(out.Message, tc.wantMsg) {
				t.Fatalf("outcome %+v, want healed=%v and %q", out, tc.healed, tc.wantMsg)
			}
			if got, _ := out.Details["notified"].(bool); got != tc.notified {
				t.Fatalf("notified = %v", got)
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			if tc.wantOp != "" && (len(m.ops) != before+1 || m.ops[before] != tc.wantOp) {
				t.Fatalf("maintenance ops %v, want %s", m.ops[before:], tc.wantOp)
			}
			if tc.wantOp == "" && len(m.ops) != before {
				t.Fatalf("unexpected maintenance %v", m.ops[before:])
			}
		})
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("restart command did not run: %v", err)
	}
	if posted != 1 {
		t.Errorf("restart url called %d times", posted)
	}
}

func TestRunWorkflow(t *testing.T) {
	p, _ := start(t)
	out, err := p.Heal(context.Background(), "run_workflow", sdk.Incident{ID: "i1", Check: "disk", Options: map[string]any{"workflow": "cleanup"}})
	if err != nil || !out.Healed {
		t.Fatalf("%+v %v", out, err)
	}
	runs := p.Host.Workflows()
	if len(runs) != 1 || runs[0].Name != "cleanup" || runs[0].Input["check"] != "disk" {
		t.Fatalf("workflow runs %+v", runs)
	}
}

func TestDelay(t *testing.T) {
	tests := []struct {
		name    string
		attempt int
		want    time.Duration
	}{
		{"first", 1, time.Second},
		{"second doubles", 2, 2 * time.Second},
		{"capped", 10, 30 * time.Second},
		{"zero counts as first", 0, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Delay(time.Second, 30*time.Second, 2, tc.attempt); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
