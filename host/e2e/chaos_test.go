package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// chaosPolicy is the workload of the chaos run: events and a signed
// webhook start a two-step workflow whose first step runs in a plugin, a
// manual workflow does the same, and a supervised service is watched by
// a check.
const chaosPolicy = `
webhook "chaos" {
  secret     = %[1]q
  event_type = "chaos.hook"
}

workflow "chaos" {
  trigger "event" {
    type = "chaos.*"
  }
  retry {
    attempts      = 10
    initial_delay = "200ms"
    max_delay     = "2s"
    retry_on      = ["transient", "timeout"]
  }
  step "first" {
    action = "noop.ok"
    input {
      n = try(event.data.n, 0)
    }
  }
  step "second" {
    action     = "heady.noop"
    depends_on = ["first"]
    input {
      n = step.first.output.n
    }
  }
}

workflow "chaos_manual" {
  retry {
    attempts      = 10
    initial_delay = "200ms"
    max_delay     = "2s"
    retry_on      = ["transient", "timeout"]
  }
  step "first" {
    action = "noop.ok"
    input {
      manual = true
    }
  }
}

service "victim" {
  command      = [%[2]q, "--addr", %[3]q, "--starts", %[4]q]
  max_restarts = 1000
}

check "victim" {
  type     = "http"
  url      = "http://%[3]s/healthz"
  interval = "500ms"
  timeout  = "400ms"
  heal "restart" {
    service = "victim"
  }
}
`

// chaosCounts is what a chaos run sent, what was accepted, and what it
// killed.
type chaosCounts struct {
	eventsSent, eventsAccepted     atomic.Int64
	hooksSent, hooksAccepted       atomic.Int64
	manualSent, manualAccepted     atomic.Int64
	apiCalls, apiOK, backpressure  atomic.Int64
	killHost, killPlugin, killSvc  atomic.Int64
	accepted                       sync.Map // event id -> kind
	manual                         sync.Map // execution id -> true
	orphansChecked, orphansMissing atomic.Int64
}

// chaosDuration is HEADY_CHAOS_DURATION (a Go duration), default 30s.
func chaosDuration(t *testing.T) time.Duration {
	if v := os.Getenv("HEADY_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("HEADY_CHAOS_DURATION=%q: %v", v, err)
		}
		return d
	}
	return 30 * time.Second
}

// procAlive reports whether pid is a live (not zombie) process.
func procAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// processesRunning lists live processes whose command line contains needle.
func processesRunning(needle string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), needle) && procAlive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// children are the process ids of a host's plugins and supervised
// services, as its API reports them.
func (h *hostProc) children(t *testing.T) []int {
	t.Helper()
	var pids []int
	var plugins struct {
		Items []pluginStatus `json:"items"`
	}
	if err := h.admin().Do(bg(), http.MethodGet, "/plugins", nil, &plugins); err == nil {
		for _, p := range plugins.Items {
			if p.PID > 0 {
				pids = append(pids, p.PID)
			}
		}
	}
	var svcs struct {
		Items []struct {
			PID int `json:"pid"`
		} `json:"items"`
	}
	if err := h.admin().Do(bg(), http.MethodGet, "/services", nil, &svcs); err == nil {
		for _, s := range svcs.Items {
			if s.PID > 0 {
				pids = append(pids, s.PID)
			}
		}
	}
	return pids
}

// TestChaos kills the host, its plugins and a supervised service with
// SIGKILL at random moments while events, signed webhooks and API calls
// keep arriving; then every accepted event has exactly one execution,
// every execution finishes, the audit chain verifies, no process of a
// killed host is left behind, and the host is healthy again.
// HEADY_CHAOS_DURATION makes the run longer (scripts/chaos.sh).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run (about 45 s): skipped under -short, runs in the normal go test ./...")
	}
	t.Parallel()
	dur := chaosDuration(t)
	const secret = "chaos-hook-secret"
	svc := svcBinary(t)
	svcAddr := freePort(t)
	starts := filepath.Join(t.TempDir(), "starts")
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "zz-chaos.hcl", fmt.Sprintf(chaosPolicy, secret, svc, svcAddr, starts))

	h := startHost(t, hostOpts{policies: pol})
	data := h.data
	var cur atomic.Pointer[hostProc]
	cur.Store(h)
	var c chaosCounts
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("HEADY_CHAOS_SEED"), 10, 64); err == nil {
		seed = v
	}
	rng := rand.New(rand.NewPCG(seed, 9))
	t.Logf("chaos run for %s, seed %d (HEADY_CHAOS_SEED repeats the kill schedule)", dur, seed)

	stop := make(chan struct{})
	var load sync.WaitGroup
	hc := &http.Client{Timeout: 5 * time.Second}
	// send posts one request to the current host; it returns the status
	// and the decoded body, or 0 when the host did not answer.
	send := func(method, path string, body []byte, hdr map[string]string, out any) int {
		hp := cur.Load()
		req, _ := http.NewRequest(method, "http://"+hp.addr+"/api/v1/automation"+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			c.backpressure.Add(1)
			if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra > 0 {
				select {
				case <-stop:
				case <-time.After(min(time.Duration(ra)*time.Second, time.Second)):
				}
			}
		}
		if out != nil && resp.StatusCode < 300 {
			_ = json.NewDecoder(resp.Body).Decode(out)
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		return resp.StatusCode
	}
	paced := func(every time.Duration, max int64, sent *atomic.Int64, fn func(n int64)) {
		defer load.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for sent.Load() < max {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			fn(sent.Add(1))
		}
	}
	auth := map[string]string{"Authorization": "Bearer " + h.token}
	// Events: four senders of about 50 events/s each.
	for w := 0; w < 4; w++ {
		load.Add(1)
		go paced(20*time.Millisecond, 1<<40, &c.eventsSent, func(n int64) {
			if c.eventsSent.Load() > 200*int64(dur/time.Second)+1000 {
				return
			}
			body, _ := json.Marshal(map[string]any{"type": "chaos.event", "data": map[string]any{"n": n}})
			var acc struct {
				EventID string `json:"event_id"`
			}
			if send(http.MethodPost, "/events", body, auth, &acc) == http.StatusAccepted && acc.EventID != "" {
				c.accepted.Store(acc.EventID, "event")
				c.eventsAccepted.Add(1)
			}
		})
	}
	// Signed webhooks, about 20/s.
	load.Add(1)
	go paced(50*time.Millisecond, 1<<40, &c.hooksSent, func(n int64) {
		body, _ := json.Marshal(map[string]any{"n": n, "ref": fmt.Sprintf("r%d", n)})
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		sig := map[string]string{"X-Heady-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil))}
		var acc struct {
			EventID string `json:"event_id"`
		}
		if send(http.MethodPost, "/hooks/chaos", body, sig, &acc) == http.StatusAccepted && acc.EventID != "" {
			c.accepted.Store(acc.EventID, "webhook")
			c.hooksAccepted.Add(1)
		}
	})
	// API calls: reads, and a manual execution every fifth call.
	load.Add(1)
	go paced(40*time.Millisecond, 1<<40, &c.apiCalls, func(n int64) {
		if n%5 == 0 {
			c.manualSent.Add(1)
			var acc struct {
				ExecutionID string `json:"execution_id"`
			}
			if send(http.MethodPost, "/workflows/chaos_manual/execute", []byte(`{"context":{}}`), auth, &acc) == http.StatusAccepted && acc.ExecutionID != "" {
				c.manual.Store(acc.ExecutionID, true)
				c.manualAccepted.Add(1)
			}
			return
		}
		paths := []string{"/status", "/workflows", "/health", "/executions?limit=20", "/plugins", "/audit/logs?limit=20"}
		if send(http.MethodGet, paths[int(n)%len(paths)], nil, auth, nil) == http.StatusOK {
			c.apiOK.Add(1)
		}
	})

	// The chaos: a kill every 1-4 s until the time is up.
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		time.Sleep(time.Duration(1000+rng.IntN(3000)) * time.Millisecond)
		hp := cur.Load()
		switch k := rng.IntN(10); {
		case k < 3: // the host, restarted on the same data directory
			kids := hp.children(t)
			hp.kill9()
			c.killHost.Add(1)
			for _, pid := range kids {
				c.orphansChecked.Add(1)
				pid := pid
				eventually(t, 10*time.Second, fmt.Sprintf("process %d of the killed host to exit", pid), func() bool { return !procAlive(pid) })
			}
			cur.Store(startHost(t, hostOpts{policies: pol, data: data}))
		case k < 7: // a plugin
			var plugins struct {
				Items []pluginStatus `json:"items"`
			}
			if err := hp.admin().Do(bg(), http.MethodGet, "/plugins", nil, &plugins); err != nil {
				continue
			}
			var running []pluginStatus
			for _, p := range plugins.Items {
				if p.State == "running" && p.PID > 0 {
					running = append(running, p)
				}
			}
			if len(running) == 0 {
				continue
			}
			p := running[rng.IntN(len(running))]
			if syscall.Kill(p.PID, syscall.SIGKILL) == nil {
				c.killPlugin.Add(1)
			}
		default: // the supervised service
			var st struct {
				PID int `json:"pid"`
			}
			if err := hp.admin().Do(bg(), http.MethodGet, "/services/victim", nil, &st); err != nil || st.PID == 0 {
				continue
			}
			if syscall.Kill(st.PID, syscall.SIGKILL) == nil {
				c.killSvc.Add(1)
			}
		}
	}
	close(stop)
	load.Wait()
	h = cur.Load()
	settled := time.Now()
	// lost: accepted events without an execution; dups: with more than one.
	lost, dups := int64(-1), int64(-1)

	t.Run("every accepted event has exactly one finished execution", func(t *testing.T) {
		var byEvent map[string]int
		var unfinished, failed int
		eventually(t, 90*time.Second, "every accepted event executed and every execution finished", func() bool {
			byEvent, unfinished, failed = map[string]int{}, 0, 0
			for _, x := range allExecutions(t, h, "chaos") {
				byEvent[x.Trigger.EventID]++
				switch x.Status {
				case "succeeded":
				case "failed", "cancelled":
					failed++
				default:
					unfinished++
				}
			}
			if unfinished > 0 {
				return false
			}
			var missing int64
			c.accepted.Range(func(k, _ any) bool {
				if byEvent[k.(string)] == 0 {
					missing++
				}
				return true
			})
			lost = missing
			return missing == 0
		})
		dups = 0
		c.accepted.Range(func(k, _ any) bool {
			if n := byEvent[k.(string)]; n > 1 {
				dups++
				t.Errorf("event %s has %d executions, want exactly 1", k, n)
			}
			return true
		})
		if failed > 0 {
			t.Errorf("%d executions failed", failed)
		}
		t.Logf("all executions finished %s after the last kill", time.Since(settled).Round(time.Millisecond))
	})

	t.Run("every accepted manual execution finished", func(t *testing.T) {
		c.manual.Range(func(k, _ any) bool {
			id := k.(string)
			var x struct {
				Status string `json:"status"`
			}
			eventually(t, 30*time.Second, "manual execution "+id+" to finish", func() bool {
				if err := h.admin().Do(bg(), http.MethodGet, "/executions/"+id, nil, &x); err != nil {
					t.Fatalf("manual execution %s: %v", id, err)
				}
				return x.Status == "succeeded" || x.Status == "failed" || x.Status == "cancelled"
			})
			if x.Status != "succeeded" {
				t.Errorf("manual execution %s ended %s", id, x.Status)
			}
			return true
		})
	})

	t.Run("the audit chain verifies", func(t *testing.T) { h.verifyAudit(t) })

	t.Run("the host is healthy again", func(t *testing.T) {
		eventually(t, 30*time.Second, "GET /health healthy", func() bool {
			var hl struct {
				OverallStatus string `json:"overall_status"`
			}
			return h.admin().Do(bg(), http.MethodGet, "/health", nil, &hl) == nil && hl.OverallStatus == "healthy"
		})
		eventually(t, 10*time.Second, "the supervised service answering", func() bool { return httpOK("http://" + svcAddr + "/healthz") })
	})

	t.Run("no orphan processes", func(t *testing.T) {
		// Only the live host's own service process may run the service
		// binary of this test.
		live := h.service(t, "victim").PID
		for _, pid := range processesRunning(svc) {
			if pid != live {
				t.Errorf("process %d runs %s but is not the live host's service (%d)", pid, svc, live)
			}
		}
		kids := h.children(t)
		stopping := time.Now()
		if err := h.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if d := time.Since(stopping); d > 10*time.Second {
			t.Errorf("graceful stop took %s, want under 10s", d.Round(time.Millisecond))
		} else {
			t.Logf("graceful stop took %s", d.Round(time.Millisecond))
		}
		for _, pid := range kids {
			c.orphansChecked.Add(1)
			pid := pid
			eventually(t, 10*time.Second, fmt.Sprintf("process %d of the stopped host to exit", pid), func() bool { return !procAlive(pid) })
		}
		t.Logf("%d processes of the stopped host gone %s after the stop began", len(kids), time.Since(stopping).Round(time.Millisecond))
		if left := processesRunning(svc); len(left) > 0 {
			t.Errorf("service processes left after the host stopped: %v", left)
		}
	})

	accepted := c.eventsAccepted.Load() + c.hooksAccepted.Load()
	summary := fmt.Sprintf("chaos summary: duration %s; kills: host %d, plugin %d, service %d; "+
		"events sent %d accepted %d; webhooks sent %d accepted %d; manual executions sent %d accepted %d; "+
		"API calls %d (%d ok); back-pressure answers %d; accepted events %d, lost %d, executed twice %d; processes checked for orphans %d",
		dur, c.killHost.Load(), c.killPlugin.Load(), c.killSvc.Load(),
		c.eventsSent.Load(), c.eventsAccepted.Load(), c.hooksSent.Load(), c.hooksAccepted.Load(),
		c.manualSent.Load(), c.manualAccepted.Load(), c.apiCalls.Load(), c.apiOK.Load(), c.backpressure.Load(),
		accepted, lost, dups, c.orphansChecked.Load())
	t.Log(summary)
	fmt.Println(summary)
	if c.killHost.Load()+c.killPlugin.Load()+c.killSvc.Load() == 0 || accepted == 0 {
		t.Fatalf("the run killed nothing or accepted nothing: %s", summary)
	}
}
