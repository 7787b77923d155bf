package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/api"
)

const clusterTestToken = "hdy_00000000000e2e01_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}

// TestLeaderDutiesStopAndRestart runs a one-server cluster and takes its
// leader duties down and up again, as a lost and regained election does:
// while down, writes are refused with 503 no_leader; once back, a fresh
// workflow engine runs new events to completion.
func TestLeaderDutiesStopAndRestart(t *testing.T) {
	pol := t.TempDir()
	if err := os.WriteFile(filepath.Join(pol, "w.hcl"), []byte(`
workflow "w" {
  trigger "event" {
    type = "t.*"
  }
  step "s" {
    action = "heady.noop"
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clusterAddr := ln.Addr().String()
	ln.Close()
	ctx := context.Background()
	h, err := Start(ctx, Options{PoliciesDir: pol, DataDir: t.TempDir(), Listen: "127.0.0.1:0", PluginDirs: []string{t.TempDir()},
		Out: io.Discard, LogOut: io.Discard, BootstrapToken: clusterTestToken,
		Server: true, Bootstrap: true, ClusterBind: clusterAddr, ClusterKey: "app-test-cluster-key-0123"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Shutdown(ctx)
	waitUntil(t, 10*time.Second, "leadership", h.cluster.leading.Load)

	base := "http://" + h.Addr().String() + api.Prefix
	post := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, base+"/events", bytes.NewReader([]byte(`{"type":"t.x"}`)))
		req.Header.Set("Authorization", "Bearer "+clusterTestToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			EventID string `json:"event_id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.EventID
	}
	succeeded := func(eventID string) bool {
		req, _ := http.NewRequest(http.MethodGet, base+"/workflows/w/executions", nil)
		req.Header.Set("Authorization", "Bearer "+clusterTestToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page struct {
			Items []struct {
				Status  string `json:"status"`
				Trigger struct {
					EventID string `json:"event_id"`
				} `json:"trigger"`
			} `json:"items"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&page)
		for _, x := range page.Items {
			if x.Trigger.EventID == eventID && x.Status == "succeeded" {
				return true
			}
		}
		return false
	}

	code, id := post()
	if code != http.StatusAccepted {
		t.Fatalf("event as leader: %d", code)
	}
	waitUntil(t, 10*time.Second, "the first execution", func() bool { return succeeded(id) })

	first := h.engine
	h.loseLeadership(ctx)
	if h.cluster.leading.Load() || h.cluster.queue.Load() != nil {
		t.Fatal("leader duties still marked running")
	}
	if code, _ := post(); code != http.StatusServiceUnavailable {
		t.Fatalf("event without leader duties: %d, want 503", code)
	}

	h.gainLeadership(ctx)
	if !h.cluster.leading.Load() || h.engine == first {
		t.Fatal("leader duties did not restart with a fresh engine")
	}
	code, id = post()
	if code != http.StatusAccepted {
		t.Fatalf("event after regaining leadership: %d", code)
	}
	waitUntil(t, 10*time.Second, "an execution on the new engine", func() bool { return succeeded(id) })
}
