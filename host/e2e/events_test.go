package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestEventBurstSurvivesKill9 sends a burst of events through the API,
// kills the host with SIGKILL in the middle, restarts it, and checks that
// every event answered 202 has exactly one execution and that every
// execution finishes.
func TestEventBurstSurvivesKill9(t *testing.T) {
	t.Parallel()
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "burst.hcl", burstWorkflow)
	h := startHost(t, hostOpts{policies: pol})
	var accepted sync.Map
	var nAccepted atomic.Int64
	// burst sends events n in [from, to) from 16 clients until stop closes.
	burst := func(addr string, from, to int64, stop <-chan struct{}) {
		var next atomic.Int64
		next.Store(from - 1)
		var wg sync.WaitGroup
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hc := &http.Client{Timeout: 10 * time.Second}
				for {
					i := next.Add(1)
					if i >= to {
						return
					}
					select {
					case <-stop:
						return
					default:
					}
					body, _ := json.Marshal(map[string]any{"type": "burst.item", "data": map[string]any{"n": i}})
					req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/automation/events", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+h.token)
					req.Header.Set("Content-Type", "application/json")
					resp, err := hc.Do(req)
					if err != nil {
						return
					}
					var out struct {
						EventID string `json:"event_id"`
					}
					_ = json.NewDecoder(resp.Body).Decode(&out)
					resp.Body.Close()
					if resp.StatusCode == http.StatusAccepted && out.EventID != "" {
						accepted.Store(out.EventID, i)
						nAccepted.Add(1)
					}
				}
			}()
		}
		wg.Wait()
	}
	killed := make(chan struct{})
	done := make(chan struct{})
	go func() { burst(h.addr, 0, 6000, killed); close(done) }()
	eventually(t, 60*time.Second, "3000 events to be accepted", func() bool { return nAccepted.Load() >= 3000 })
	h.kill9()
	close(killed)
	<-done
	before := nAccepted.Load()

	h2 := startHost(t, hostOpts{policies: pol, data: h.data})
	burst(h2.addr, 6000, 8500, nil)
	t.Logf("%d events accepted before the kill, %d in all", before, nAccepted.Load())
	if nAccepted.Load() < 5000 {
		t.Fatalf("only %d events accepted", nAccepted.Load())
	}
	byEvent := map[string]int{}
	eventually(t, 120*time.Second, "every accepted event to have a finished execution", func() bool {
		byEvent = map[string]int{}
		unfinished := 0
		for _, x := range allExecutions(t, h2, "burst") {
			byEvent[x.Trigger.EventID]++
			if x.Status == "failed" || x.Status == "cancelled" {
				t.Fatalf("an execution ended %s", x.Status)
			}
			if x.Status != "succeeded" {
				unfinished++
			}
		}
		if unfinished > 0 {
			return false
		}
		missing := 0
		accepted.Range(func(k, _ any) bool {
			if byEvent[k.(string)] == 0 {
				missing++
			}
			return true
		})
		return missing == 0
	})
	accepted.Range(func(k, _ any) bool {
		if n := byEvent[k.(string)]; n != 1 {
			t.Errorf("event %s has %d executions, want exactly 1", k, n)
		}
		return true
	})
}

// TestWebhookSignatures checks that a signed webhook starts its workflow and
// that a bad signature is refused and audited.
func TestWebhookSignatures(t *testing.T) {
	t.Parallel()
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	const secret = "s3cret-hook-key"
	writePolicy(t, pol, "hook.hcl", fmt.Sprintf(`
webhook "deploy" {
  secret = %q
}

workflow "on_deploy" {
  trigger "webhook" {
    webhook = "deploy"
  }
  trigger "event" {
    type      = "deploy.requested"
    condition = event.data.env == "prod"
  }
  step "ack" {
    action = "noop.ok"
    input {
      ref = event.data.ref
    }
  }
}
`, secret))
	h := startHost(t, hostOpts{policies: pol})
	post := func(body []byte, sig string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr+"/api/v1/automation/hooks/deploy", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("X-Heady-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	body := []byte(`{"ref":"v1.2.3"}`)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	good := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := post(body, "sha256="+hex.EncodeToString(make([]byte, 32))); got != 401 {
		t.Fatalf("bad signature: %d, want 401", got)
	}
	if got := post(body, ""); got != 401 {
		t.Fatalf("missing signature: %d, want 401", got)
	}
	if got := post(body, good); got != 202 {
		t.Fatalf("good signature: %d, want 202", got)
	}
	// An event whose condition does not match starts nothing; one that
	// matches does.
	for _, env := range []string{"staging", "prod"} {
		if err := h.admin().Do(bg(), http.MethodPost, "/events", map[string]any{"type": "deploy.requested", "data": map[string]any{"env": env, "ref": env}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var refs map[string]bool
	eventually(t, 20*time.Second, "two executions: the webhook and the matching event", func() bool {
		var page struct {
			Items []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"items"`
		}
		if err := h.admin().Do(bg(), http.MethodGet, "/workflows/on_deploy/executions", nil, &page); err != nil {
			t.Fatal(err)
		}
		refs = map[string]bool{}
		for _, x := range page.Items {
			var full struct {
				Steps []struct {
					Output map[string]any `json:"output"`
				} `json:"steps"`
			}
			if err := h.admin().Do(bg(), http.MethodGet, "/executions/"+x.ID, nil, &full); err != nil {
				t.Fatal(err)
			}
			if x.Status == "succeeded" && len(full.Steps) > 0 {
				refs[fmt.Sprint(full.Steps[0].Output["ref"])] = true
			}
		}
		return len(page.Items) >= 2 && len(refs) >= 2
	})
	if !refs["v1.2.3"] || !refs["prod"] || refs["staging"] {
		t.Fatalf("executions ran for %v; want the webhook (v1.2.3) and the prod event only", refs)
	}
	var rejected int
	for _, e := range auditActions(t, h, "resource_type=webhook&resource_id=deploy&limit=100") {
		if e["outcome"] == "denied" {
			rejected++
		}
	}
	if rejected < 2 {
		t.Fatalf("%d denied webhook entries in the audit trail, want at least 2", rejected)
	}
}
