package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/healing"
	"github.com/heady-dev/heady/host/services"
)

// svcBinary builds the small supervised HTTP service of the healing tests
// into the test's temporary directory (the build cache makes this cheap).
func svcBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "svc")
	cmd := exec.Command("go", "build", "-o", bin, "./host/healing/testdata/svc")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build svc: %v\n%s", err, out)
	}
	return bin
}

// healingPolicies is the default policies plus body in healing_test.hcl.
func healingPolicies(t *testing.T, body string) string {
	t.Helper()
	dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	if err := os.WriteFile(filepath.Join(dir, "healing_test.hcl"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (h *hostProc) service(t *testing.T, name string) services.Status {
	t.Helper()
	var st services.Status
	if err := h.admin().Do(bg(), "GET", "/services/"+name, nil, &st); err != nil {
		t.Fatalf("GET /services/%s: %v", name, err)
	}
	return st
}

func (h *hostProc) check(t *testing.T, name string) healing.CheckInfo {
	t.Helper()
	var ci healing.CheckInfo
	if err := h.admin().Do(bg(), "GET", "/health/checks/"+name, nil, &ci); err != nil {
		t.Fatalf("GET /health/checks/%s: %v", name, err)
	}
	return ci
}

func (h *hostProc) incidents(t *testing.T, check string) []healing.Incident {
	t.Helper()
	var page struct{ Items []healing.Incident }
	if err := h.admin().Do(bg(), "GET", "/health/incidents?check="+check, nil, &page); err != nil {
		t.Fatalf("GET /health/incidents: %v", err)
	}
	return page.Items
}

func (h *hostProc) auditCount(t *testing.T, action, rtype, resource string) int {
	t.Helper()
	var page struct{ Items []audit.Entry }
	q := "/audit/logs?limit=1000&action=" + action + "&resource_type=" + rtype + "&resource_id=" + resource
	if err := h.admin().Do(bg(), "GET", q, nil, &page); err != nil {
		t.Fatalf("GET /audit/logs: %v", err)
	}
	return len(page.Items)
}

func httpOK(url string) bool {
	c := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func lines(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

// TestHealingKill9Restarts: a supervised service killed with -9 is detected
// and restarted, and the process check stays or becomes healthy again.
func TestHealingKill9Restarts(t *testing.T) {
	t.Parallel()
	bin := svcBinary(t)
	port := freePort(t)
	starts := filepath.Join(t.TempDir(), "starts")
	h := startHost(t, hostOpts{policies: healingPolicies(t, fmt.Sprintf(`
service "web" {
  command = [%q, "--addr", %q, "--starts", %q]
}
check "web" {
  type     = "process"
  service  = "web"
  interval = "250ms"
  timeout  = "200ms"
  heal "restart" {}
}
`, bin, port, starts))})
	eventually(t, 10*time.Second, "the service answers", func() bool { return httpOK("http://" + port + "/healthz") })
	st := h.service(t, "web")
	if !st.Running() || st.Starts != 1 {
		t.Fatalf("service %+v", st)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a restarted process that answers", func() bool {
		s := h.service(t, "web")
		return s.Running() && s.PID != st.PID && httpOK("http://"+port+"/healthz")
	})
	if n := lines(starts); n != 2 {
		t.Fatalf("the service started %d times, want 2", n)
	}
	eventually(t, 5*time.Second, "audit entries for the exit and the restart", func() bool {
		return h.auditCount(t, "service.exited", "service", "web") == 1 && h.auditCount(t, "service.restarted", "service", "web") == 1
	})
	eventually(t, 5*time.Second, "the check healthy", func() bool { return h.check(t, "web").State.Status == healing.StatusHealthy })
}

// TestHealingHTTP500RestartsAfterThreshold: a service that starts answering
// 500 is restarted after failures_before_unhealthy failures, not before.
func TestHealingHTTP500RestartsAfterThreshold(t *testing.T) {
	t.Parallel()
	bin := svcBinary(t)
	port := freePort(t)
	dir := t.TempDir()
	starts, count := filepath.Join(dir, "starts"), filepath.Join(dir, "count")
	h := startHost(t, hostOpts{policies: healingPolicies(t, fmt.Sprintf(`
service "api" {
  command = [%q, "--addr", %q, "--starts", %q, "--count", %q]
}
check "api" {
  type                      = "http"
  url                       = "http://%s/healthz"
  interval                  = "250ms"
  timeout                   = "250ms"
  failures_before_unhealthy = 3
  heal "restart" {
    service = "api"
  }
  heal "alert" {}
}
`, bin, port, starts, count, port))})
	eventually(t, 10*time.Second, "the check healthy", func() bool { return h.check(t, "api").State.Status == healing.StatusHealthy })
	if n := lines(starts); n != 1 {
		t.Fatalf("started %d times before the failure, want 1", n)
	}
	resp, err := http.Post("http://"+port+"/break", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, 10*time.Second, "a restart", func() bool { return lines(starts) == 2 })
	eventually(t, 10*time.Second, "the incident healed", func() bool {
		incs := h.incidents(t, "api")
		return len(incs) == 1 && incs[0].Outcome == "healed"
	})
	inc := h.incidents(t, "api")[0]
	if len(inc.Attempts) != 1 || inc.Attempts[0].Strategy != "restart" || inc.Attempts[0].Outcome != healing.OutcomeSucceeded {
		t.Fatalf("incident %+v", inc)
	}
	// Heady saw exactly 3 failures in a row before healing; the broken
	// process answered at most those 3 (a probe that timed out on a busy
	// machine is a failure the process did not count).
	b, _ := os.ReadFile(count)
	if n, _ := strconv.Atoi(string(b)); inc.Failures != 3 || n < 1 || n > 3 {
		t.Fatalf("incident opened after %d failures, the process answered %d failing checks; want 3 and 1-3", inc.Failures, n)
	}
	var hl struct {
		OverallStatus string `json:"overall_status"`
		Stats         struct {
			SuccessfulHealings int `json:"successful_healings"`
		} `json:"stats"`
	}
	if err := h.admin().Do(bg(), "GET", "/health", nil, &hl); err != nil {
		t.Fatal(err)
	}
	if hl.Stats.SuccessfulHealings != 1 {
		t.Fatalf("health stats %+v", hl)
	}
	if n := h.auditCount(t, "healing.restart", "check", "api"); n != 1 {
		t.Fatalf("audit healing.restart entries %d, want 1", n)
	}
}

// TestHealingRestartBudget: a service that keeps dying exhausts its restart
// budget: no restart storm, marked failed, one alert, then a slow retry.
func TestHealingRestartBudget(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var alerts []healing.Alert
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a healing.Alert
		_ = json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		alerts = append(alerts, a)
		mu.Unlock()
	}))
	defer hook.Close()
	starts := filepath.Join(t.TempDir(), "starts")
	h := startHost(t, hostOpts{policies: healingPolicies(t, fmt.Sprintf(`
service "crashy" {
  command      = ["sh", "-c", "echo start >> %s; exit 1"]
  max_restarts = 3
  window       = "1m"
  retry_after  = "3s"
}
alert "ops" {
  kind = "webhook"
  url  = %q
}
`, starts, hook.URL))})
	eventually(t, 10*time.Second, "the service failed", func() bool { return h.service(t, "crashy").State == services.StateFailed })
	failedAt := time.Now()
	st := h.service(t, "crashy")
	if st.Starts != 4 || lines(starts) != 4 {
		t.Fatalf("starts %d (%d runs), want 4: the first and 3 restarts", st.Starts, lines(starts))
	}
	if st.RetryAt.IsZero() {
		t.Fatal("no slow retry scheduled")
	}
	var hl struct {
		OverallStatus string `json:"overall_status"`
		Components    []struct{ Name, Status string }
	}
	_ = h.admin().Do(bg(), "GET", "/health", nil, &hl)
	marked := false
	for _, c := range hl.Components {
		marked = marked || (c.Name == "service:crashy" && c.Status == "failed")
	}
	if !marked || hl.OverallStatus != "unhealthy" {
		t.Fatalf("GET /health does not show the failed service: %+v", hl)
	}
	eventually(t, 10*time.Second, "the slow retry", func() bool { return lines(starts) == 5 })
	if d := time.Since(failedAt); d < 2*time.Second {
		t.Fatalf("retried after %s, before retry_after", d)
	}
	eventually(t, 5*time.Second, "failed again", func() bool { return h.service(t, "crashy").State == services.StateFailed })
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, a := range alerts {
		if a.Key == "service:crashy" && a.Kind == "alert" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("alerts %+v, want exactly one for service:crashy", alerts)
	}
	if c := h.auditCount(t, "service.failed", "service", "crashy"); c != 2 {
		t.Fatalf("service.failed audit entries %d, want 2 (budget, then the retry)", c)
	}
}

// TestHealingFlappingCheckDoesNotHeal: a check that fails and passes in
// turn never reaches failures_before_unhealthy and heals nothing.
func TestHealingFlappingCheckDoesNotHeal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state, marker := filepath.Join(dir, "state"), filepath.Join(dir, "healed")
	h := startHost(t, hostOpts{policies: healingPolicies(t, fmt.Sprintf(`
check "flappy" {
  type                      = "exec"
  command                   = ["sh", "-c", "if [ -e %[1]s ]; then rm %[1]s; exit 1; else touch %[1]s; exit 0; fi"]
  interval                  = "100ms"
  failures_before_unhealthy = 2
  heal "exec" {
    command = ["touch", %[2]q]
  }
}
`, state, marker))})
	eventually(t, 20*time.Second, "30 runs", func() bool { return h.check(t, "flappy").State.Runs >= 30 })
	ci := h.check(t, "flappy")
	if ci.State.Failures < 10 {
		t.Fatalf("the check did not flap: %+v", ci.State)
	}
	if ci.State.Status == healing.StatusUnhealthy {
		t.Fatalf("unhealthy: %+v", ci.State)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a flapping check was healed")
	}
	if incs := h.incidents(t, "flappy"); len(incs) != 0 {
		t.Fatalf("incidents %+v", incs)
	}
}

// TestHealingDiskFullRunsCleanup: a disk check over a small file system the
// test controls triggers the cleanup workflow, which frees it.
func TestHealingDiskFullRunsCleanup(t *testing.T) {
	t.Parallel()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	fill := filepath.Join(mnt, "fill")
	if err := os.WriteFile(fill, make([]byte, 6<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, hostOpts{policies: healingPolicies(t, fmt.Sprintf(`
check "small_disk" {
  type      = "disk"
  path      = %[1]q
  threshold = 50
  interval  = "250ms"
  failures_before_unhealthy = 1
  heal "run_workflow" {
    workflow = "cleanup_small_disk"
  }
}
workflow "cleanup_small_disk" {
  step "remove" {
    action = "exec.run"
    input {
      command = ["rm", "-f", %[2]q]
    }
  }
}
`, mnt, fill))})
	eventually(t, 20*time.Second, "the file removed and the incident healed", func() bool {
		incs := h.incidents(t, "small_disk")
		return len(incs) == 1 && incs[0].Outcome == "healed"
	})
	if _, err := os.Stat(fill); !os.IsNotExist(err) {
		t.Fatalf("fill file still there: %v", err)
	}
	inc := h.incidents(t, "small_disk")[0]
	if inc.Attempts[0].Strategy != "run_workflow" || inc.Attempts[0].Details["execution_id"] == "" {
		t.Fatalf("incident %+v", inc)
	}
	if ci := h.check(t, "small_disk"); ci.State.Status != healing.StatusHealthy {
		t.Fatalf("check %+v", ci.State)
	}
}

// TestHealingMemoryPressureClearsCaches: with the garbage collector off
// (GOGC=off, a real runtime setting), garbage from large API requests piles
// up in the host's heap until the memory check's threshold_bytes is crossed;
// clear_caches collects it and returns it to the OS, and the heap shrinks.
func TestHealingMemoryPressureClearsCaches(t *testing.T) {
	t.Parallel()
	pol := healingPolicies(t, memPolicy(1<<40))
	h := startHost(t, hostOpts{policies: pol, env: []string{"GOGC=off"}})
	var rss float64
	eventually(t, 10*time.Second, "a memory reading", func() bool {
		v, ok := h.check(t, "heap").State.Values["rss_bytes"].(float64)
		rss = v
		return ok && v > 0
	})
	limit := int64(rss) + 96<<20
	if err := os.WriteFile(filepath.Join(pol, "healing_test.hcl"), []byte(memPolicy(limit)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.admin().Do(bg(), "POST", "/reload", nil, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the new threshold", func() bool { return h.check(t, "heap").ThresholdBytes == limit })
	// Push garbage: requests with large bodies that the API decodes and
	// rejects (nothing is stored).
	big := `{"type": "", "data": {"blob": "` + strings.Repeat("x", 700<<10) + `"}}`
	deadline := time.Now().Add(20 * time.Second)
	for len(h.incidents(t, "heap")) == 0 && time.Now().Before(deadline) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", "http://"+h.addr+"/api/v1/automation/events", strings.NewReader(big))
				req.Header.Set("Authorization", "Bearer "+h.token)
				req.Header.Set("Content-Type", "application/json")
				if resp, err := http.DefaultClient.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
	}
	eventually(t, 15*time.Second, "clear_caches healed the memory check", func() bool {
		incs := h.incidents(t, "heap")
		return len(incs) > 0 && incs[len(incs)-1].Outcome == "healed"
	})
	incs := h.incidents(t, "heap")
	inc := incs[len(incs)-1]
	a := inc.Attempts[0]
	before, _ := a.Details["heap_alloc_before"].(float64)
	after, _ := a.Details["heap_alloc_after"].(float64)
	if a.Strategy != "clear_caches" || before <= 0 || after >= before/2 {
		t.Fatalf("the heap did not visibly shrink: %+v", a)
	}
	t.Logf("heap %0.f MiB → %0.f MiB, threshold %d MiB", before/(1<<20), after/(1<<20), limit>>20)
}

func memPolicy(limit int64) string {
	return fmt.Sprintf(`
check "heap" {
  type                      = "memory"
  threshold_bytes           = %d
  interval                  = "250ms"
  failures_before_unhealthy = 1
  heal "clear_caches" {}
  heal "alert" {}
}
`, limit)
}

// TestHealingTimeToRecovery measures kill -9 of a supervised HTTP service
// until it answers again, healed by an HTTP check at a 250 ms interval
// (restart = "never": only the check brings it back). The same-run baseline
// is a service with restart = "always", brought back by the supervisor as
// soon as it sees the exit. HEADY_BENCH_RUNS sets the number of runs
// (default 5; the benchmark script uses 20).
func TestHealingTimeToRecovery(t *testing.T) {
	t.Parallel()
	runs := 5
	if v, err := strconv.Atoi(os.Getenv("HEADY_BENCH_RUNS")); err == nil && v > 0 {
		runs = v
	}
	bin := svcBinary(t)
	port, basePort := freePort(t), freePort(t)
	h := startHost(t, hostOpts{policies: healingPolicies(t, fmt.Sprintf(`
service "ttr" {
  command      = [%[1]q, "--addr", %[2]q]
  restart      = "never"
  max_restarts = 1000
}
check "ttr" {
  type                      = "http"
  url                       = "http://%[2]s/healthz"
  interval                  = "250ms"
  timeout                   = "200ms"
  failures_before_unhealthy = 1
  heal "restart" {
    service = "ttr"
  }
}
service "ttr_baseline" {
  command      = [%[1]q, "--addr", %[3]q]
  restart      = "always"
  max_restarts = 1000
}
`, bin, port, basePort))})
	measure := func(svc, addr string, ready func() bool) []time.Duration {
		url := "http://" + addr + "/healthz"
		var ds []time.Duration
		for i := range runs {
			// Up for over a second: a process that ran that long is
			// restarted without backoff.
			eventually(t, 10*time.Second, svc+" ready before the kill", func() bool {
				st := h.service(t, svc)
				return st.Running() && time.Since(st.StartedAt) > 1100*time.Millisecond && ready()
			})
			pid := h.service(t, svc).PID
			start := time.Now()
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for syscall.Kill(pid, 0) == nil && time.Since(start) < 5*time.Second {
				time.Sleep(time.Millisecond) // the old process still answers until it is gone
			}
			for !quickOK(url) {
				if time.Since(start) > 10*time.Second {
					t.Fatalf("%s run %d: not recovered within 10s", svc, i+1)
				}
				time.Sleep(5 * time.Millisecond)
			}
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds
	}
	ds := measure("ttr", port, func() bool {
		ci := h.check(t, "ttr")
		return ci.State.Status == healing.StatusHealthy && ci.State.Incident == ""
	})
	base := measure("ttr_baseline", basePort, func() bool { return quickOK("http://" + basePort + "/healthz") })
	p95 := func(ds []time.Duration) time.Duration { return ds[min(len(ds)-1, (len(ds)*95+99)/100-1)] }
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	fmt.Printf("time to recovery, check-driven (kill -9 -> answers again, 250ms check interval, %d runs): min %s median %s p95 %s\n",
		len(ds), r(ds[0]), r(ds[len(ds)/2]), r(p95(ds)))
	fmt.Printf("time to recovery, baseline supervisor restart (restart = always, no check, %d runs): min %s median %s p95 %s\n",
		len(base), r(base[0]), r(base[len(base)/2]), r(p95(base)))
	if med := ds[len(ds)/2]; med > 2*time.Second {
		t.Fatalf("median time to recovery %s", med)
	}
	if n := len(h.incidents(t, "ttr")); n != runs {
		t.Fatalf("%d incidents, want one per kill (%d)", n, runs)
	}
}

func quickOK(url string) bool {
	c := http.Client{Timeout: 100 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{Timeout: 50 * time.Millisecond}).DialContext}}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
