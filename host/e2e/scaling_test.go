package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// decision is the part of a scaling decision the tests read.
type decision struct {
	ID      string             `json:"id"`
	Time    time.Time          `json:"time"`
	Policy  string             `json:"policy"`
	Action  string             `json:"action"`
	From    int                `json:"from"`
	To      int                `json:"to"`
	Reason  string             `json:"reason"`
	Applied bool               `json:"applied"`
	Current int                `json:"current"`
	Metrics map[string]float64 `json:"metrics"`
	Missing []string           `json:"missing"`
	Error   string             `json:"error"`
}

type policyView struct {
	Name    string `json:"name"`
	Current int    `json:"current"`
	Desired int    `json:"desired"`
}

// history returns a policy's decisions, oldest first.
func history(t *testing.T, h *hostProc, policy string) []decision {
	t.Helper()
	var page struct {
		Items []decision `json:"items"`
	}
	if err := h.admin().Do(bg(), http.MethodGet, "/scaling/history?limit=1000&policy="+policy, nil, &page); err != nil {
		t.Fatal(err)
	}
	out := make([]decision, len(page.Items))
	for i, d := range page.Items {
		out[len(out)-1-i] = d
	}
	return out
}

func current(t *testing.T, h *hostProc, policy string) int {
	t.Helper()
	var page struct {
		Items []policyView `json:"items"`
	}
	if err := h.admin().Do(bg(), http.MethodGet, "/scaling/policies", nil, &page); err != nil {
		t.Fatal(err)
	}
	for _, p := range page.Items {
		if p.Name == policy {
			return p.Current
		}
	}
	t.Fatalf("policy %s not listed", policy)
	return 0
}

// portBase picks a port range for a test's replicas, apart from other
// test processes.
func portBase(offset int) int { return 30000 + (os.Getpid()%400)*80 + offset }

// poolPolicy is a process-pool policy over the demo app with short
// cooldowns and windows.
func poolPolicy(name, metricBlock, extra string, ports int, proxy string) string {
	demo := filepath.Join(binDir, "demoapp")
	return fmt.Sprintf(`
scaling %q {
  evaluation_interval = "500ms"
  %s

  %s

  backend "process_pool" {
    command         = [%q, "--listen", "127.0.0.1:{port}", "--heady", ""]
    port_min        = %d
    port_max        = %d
    health_path     = "/healthz"
    proxy           = %q
    rate_window     = "2s"
    report_interval = "250ms"
    drain_timeout   = "5s"
  }
}
`, name, extra, metricBlock, demo, ports, ports+19, proxy)
}

// TestScalingProcessPoolFollowsLoad drives real HTTP load through the pool's
// proxy: the pool scales up to max, holds there, and after the load stops
// scales down only after the cooldown and the stabilization window, and no
// further than min.
func TestScalingProcessPoolFollowsLoad(t *testing.T) {
	t.Parallel()
	dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	proxy := freePort(t)
	body := poolPolicy("web", `metric "requests_per_min" {
    scale_up   = 1200
    scale_down = 120
  }`, `min = 1
  max = 3
  cooldown_up = "1s"
  cooldown_down = "2s"
  stabilization_window = "4s"`, portBase(0), proxy)
	if err := os.WriteFile(filepath.Join(dir, "zz-scaling-test.hcl"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, hostOpts{policies: dir})
	eventually(t, 15*time.Second, "the pool to reach min (1 replica)", func() bool { return current(t, h, "web") == 1 })

	// Bounded loopback load: about 100 requests/s for at most 12 s and
	// 1200 requests, stopped early once max has held for a while.
	load := startSteadyLoad("http://"+proxy+"/healthz", 1200, 12*time.Second)
	eventually(t, 12*time.Second, "the load to scale the pool to max (3)", func() bool { return current(t, h, "web") == 3 })
	// Max holds: let at least three more evaluations see the load.
	atMax := time.Now()
	eventually(t, 5*time.Second, "evaluations at max", func() bool {
		n := 0
		for _, d := range history(t, h, "web") {
			if d.Time.After(atMax) && d.From == 3 {
				n++
			}
		}
		return n >= 3
	})
	load.stop(t)
	stopped := time.Now()

	eventually(t, 25*time.Second, "the pool to scale back down to min (1)", func() bool { return current(t, h, "web") == 1 })
	// Let a few evaluations run at min.
	atMin := time.Now()
	eventually(t, 5*time.Second, "evaluations at min", func() bool {
		n := 0
		for _, d := range history(t, h, "web") {
			if d.Time.After(atMin) && d.From == 1 {
				n++
			}
		}
		return n >= 2
	})

	ds := history(t, h, "web")
	var lastUp, firstDown time.Time
	ups, downs := 0, 0
	for _, d := range ds {
		if d.To > 3 || d.To < 1 || d.Current > 3 {
			t.Errorf("decision beyond min/max: %+v", d)
		}
		switch {
		case d.Action == "scale_up" && d.Applied:
			ups++
			lastUp = d.Time
			if d.From >= 1 && !strings.Contains(d.Reason, "requests_per_min") {
				t.Errorf("scale-up reason %q does not name the metric", d.Reason)
			}
		case d.Action == "scale_down" && d.Applied:
			downs++
			if firstDown.IsZero() {
				firstDown = d.Time
			}
		}
	}
	if ups != 3 || downs != 2 {
		t.Fatalf("%d scale-ups and %d scale-downs, want 3 (to min, 2, 3) and 2 (to 2, 1):\n%s", ups, downs, describe(ds))
	}
	if firstDown.Sub(lastUp) < 2*time.Second {
		t.Fatalf("scaled down %v after the last scale-up, within the 2s down cooldown", firstDown.Sub(lastUp))
	}
	if firstDown.Sub(stopped) < 4*time.Second {
		t.Fatalf("scaled down %v after the load stopped, within the 4s stabilization window", firstDown.Sub(stopped))
	}
	held := false
	for _, d := range ds {
		if d.Action == "hold" && strings.Contains(d.Reason, "stabilizing") {
			held = true
		}
	}
	if !held {
		t.Fatalf("no decision held for the stabilization window:\n%s", describe(ds))
	}

	// Scaling actions are events, audit entries and Prometheus counts.
	var audit struct {
		Items []map[string]any `json:"items"`
	}
	if err := h.admin().Do(bg(), http.MethodGet, "/audit/logs?action=scaling.scale_down&limit=10", nil, &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Items) != 2 {
		t.Fatalf("%d scaling.scale_down audit entries, want 2", len(audit.Items))
	}
	prom := getText(t, "http://"+h.addr+"/metrics")
	for _, want := range []string{`heady_scaling_actions_total{direction="up",policy="web"} 3`, `heady_scaling_actions_total{direction="down",policy="web"} 2`, `heady_scaling_current{policy="web"} 1`} {
		if !strings.Contains(prom, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestScalingRestoresKilledReplica kills a replica from outside Heady: the
// pool notices at the next evaluation and the count is restored.
func TestScalingRestoresKilledReplica(t *testing.T) {
	t.Parallel()
	dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	ports := portBase(20)
	body := poolPolicy("jobs", `metric "load" {
    scale_up   = 70
    scale_down = 10
  }`, `min = 1
  max = 2
  cooldown = "500ms"
  stabilization_window = "1s"`, ports, freePort(t))
	if err := os.WriteFile(filepath.Join(dir, "zz-scaling-test.hcl"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, hostOpts{policies: dir})
	push := func(v float64) {
		t.Helper()
		var out map[string]any
		if err := h.admin().Do(bg(), http.MethodPost, "/metrics/custom", map[string]any{"samples": []any{map[string]any{"series": "load", "value": v}}}, &out); err != nil {
			t.Fatal(err)
		}
	}
	push(90)
	eventually(t, 15*time.Second, "the pool to reach 2 replicas", func() bool { push(90); return current(t, h, "jobs") == 2 })
	// Within thresholds from now on: the count must not change by itself.
	eventually(t, 10*time.Second, "a hold at 2 within thresholds", func() bool {
		push(50)
		ds := history(t, h, "jobs")
		d := ds[len(ds)-1]
		return d.Action == "hold" && d.From == 2 && d.Metrics["load"] == 50
	})
	pid := replicaPID(t, ports)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, 10*time.Second, "the killed replica to be noticed and replaced", func() bool {
		push(50)
		for _, d := range history(t, h, "jobs") {
			if d.Time.After(killed) && d.From == 1 && d.To == 2 && d.Applied && strings.Contains(d.Reason, "restore") {
				return current(t, h, "jobs") == 2
			}
		}
		return false
	})
	if p := replicaPID(t, ports); p == pid {
		t.Fatalf("replica pid %d is still listed after being killed", pid)
	}

	// Removing the policy drains its pool.
	if err := os.Remove(filepath.Join(dir, "zz-scaling-test.hcl")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the removed policy's replicas to be drained", func() bool { return len(replicaPIDs(ports)) == 0 })
}

// TestScalingOscillationDoesNotFlap pushes a metric that swings across both
// thresholds every 1.5 s: the pool scales up with the high phases and,
// thanks to the stabilization window, never back down in the low ones.
func TestScalingOscillationDoesNotFlap(t *testing.T) {
	t.Parallel()
	dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	body := poolPolicy("osc", `metric "swing" {
    scale_up   = 70
    scale_down = 30
  }`, `min = 1
  max = 3
  cooldown = "500ms"
  stabilization_window = "4s"`, portBase(40), freePort(t))
	if err := os.WriteFile(filepath.Join(dir, "zz-scaling-test.hcl"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, hostOpts{policies: dir})
	push := func(v float64) {
		t.Helper()
		if err := h.admin().Do(bg(), http.MethodPost, "/metrics/custom", map[string]any{"samples": []any{map[string]any{"series": "swing", "value": v}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 15*time.Second, "the pool to reach min", func() bool { push(50); return current(t, h, "osc") == 1 })
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	for time.Since(start) < 9*time.Second { // three cycles of 1.5 s high, 1.5 s low
		v := 95.0
		if int(time.Since(start)/(1500*time.Millisecond))%2 == 1 {
			v = 5
		}
		push(v)
		<-tick.C
	}
	tick.Stop()
	ds := history(t, h, "osc")
	ups, downs, stabilizing, lows := 0, 0, 0, 0
	for _, d := range ds {
		if d.Time.Before(start) {
			continue
		}
		if d.Metrics["swing"] < 30 {
			lows++
		}
		switch {
		case d.Action == "scale_up" && d.Applied:
			ups++
		case d.Action == "scale_down" && d.Applied:
			downs++
		case strings.Contains(d.Reason, "stabilizing"):
			stabilizing++
		}
	}
	if lows == 0 || stabilizing == 0 {
		t.Fatalf("the low phases were not seen (%d low readings, %d stabilizing holds):\n%s", lows, stabilizing, describe(ds))
	}
	if downs != 0 || ups == 0 || ups > 2 {
		t.Fatalf("%d scale-ups and %d scale-downs while the metric oscillated; want only scale-ups (at most 2, max 3):\n%s", ups, downs, describe(ds))
	}
}

// TestScalingMissingMetricAndAPI checks each missing-metric choice, the
// metrics API and the status endpoint's scaling section.
func TestScalingMissingMetricAndAPI(t *testing.T) {
	t.Parallel()
	dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	var b strings.Builder
	for _, m := range []string{"hold", "scale_up", "fail"} {
		fmt.Fprintf(&b, `
scaling "missing_%s" {
  dry_run             = true
  missing_metric      = %q
  evaluation_interval = "300ms"
  max                 = 3

  metric "queue_depth" {
    scale_up   = 100
    scale_down = 10
  }
}
`, m, m)
	}
	if err := os.WriteFile(filepath.Join(dir, "zz-scaling-test.hcl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, hostOpts{policies: dir})
	want := map[string]struct{ action, reason string }{
		"missing_hold":     {"hold", "hold: metric queue_depth missing"},
		"missing_scale_up": {"scale_up", "dry_run: metric queue_depth missing: scale up"},
		"missing_fail":     {"error", "fail: metric queue_depth missing"},
	}
	for name, w := range want {
		eventually(t, 10*time.Second, name+" to be evaluated", func() bool { return len(history(t, h, name)) > 0 })
		d := history(t, h, name)[0]
		if d.Action != w.action || d.Reason != w.reason || d.Applied || len(d.Missing) != 1 {
			t.Errorf("%s: first decision %+v, want %s %q", name, d, w.action, w.reason)
		}
	}
	var audit struct {
		Items []map[string]any `json:"items"`
	}
	if err := h.admin().Do(bg(), http.MethodGet, "/audit/logs?action=scaling.evaluate&resource_type=scaling_policy&resource_id=missing_fail&limit=5", nil, &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Items) == 0 || audit.Items[0]["outcome"] != "failure" {
		t.Fatalf("no failure audit entry for missing_fail: %v", audit.Items)
	}

	// Once pushed, the metric is used.
	var acc map[string]any
	if err := h.admin().Do(bg(), http.MethodPost, "/metrics/custom", map[string]any{"samples": []any{map[string]any{"series": "queue_depth", "value": 500}}}, &acc); err != nil {
		t.Fatal(err)
	}
	pushed := time.Now()
	eventually(t, 10*time.Second, "missing_hold to read the pushed metric", func() bool {
		for _, d := range history(t, h, "missing_hold") {
			if d.Time.After(pushed) && d.Metrics["queue_depth"] == 500 && strings.HasPrefix(d.Reason, "dry_run: queue_depth 500 > 100") {
				return true
			}
		}
		return false
	})

	// The metrics endpoints.
	var sm struct {
		CPU         *float64 `json:"cpu"`
		Memory      *float64 `json:"memory"`
		ActiveNodes int      `json:"active_nodes"`
		Policies    []struct {
			Name string `json:"name"`
		} `json:"policies"`
	}
	if err := h.admin().Do(bg(), http.MethodGet, "/scaling/metrics", nil, &sm); err != nil {
		t.Fatal(err)
	}
	if sm.CPU == nil || sm.Memory == nil || sm.ActiveNodes != 1 || len(sm.Policies) != 4 {
		t.Fatalf("scaling metrics = %+v", sm)
	}
	var q struct {
		Points []struct {
			Value float64 `json:"value"`
			Count int     `json:"count"`
		} `json:"points"`
	}
	if err := h.admin().Do(bg(), http.MethodGet, "/metrics/query?series=custom.queue_depth&from=1h", nil, &q); err != nil {
		t.Fatal(err)
	}
	if len(q.Points) != 1 || q.Points[0].Value != 500 || q.Points[0].Count != 1 {
		t.Fatalf("query = %+v", q)
	}
	eventually(t, 15*time.Second, "the collector's host.cpu series", func() bool {
		err := h.admin().Do(bg(), http.MethodGet, "/metrics/query?series=host.cpu&from=1h&step=1m", nil, &q)
		return err == nil && len(q.Points) > 0
	})
	err := h.admin().Do(bg(), http.MethodGet, "/metrics/query?series=nope.nothing", nil, &q)
	if err == nil || !strings.Contains(err.Error(), "404") && !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown series: %v", err)
	}
	err = h.admin().Do(bg(), http.MethodPost, "/metrics/custom", map[string]any{"samples": []any{map[string]any{"series": "bad name", "value": 1}}}, &acc)
	if err == nil || !strings.Contains(err.Error(), "series") {
		t.Fatalf("invalid series accepted: %v", err)
	}
	prom := getText(t, "http://"+h.addr+"/metrics")
	for _, w := range []string{"heady_api_requests_total{", "heady_scaling_evaluations_total{action=\"error\",policy=\"missing_fail\"}", "heady_events_total", "heady_workflow_executions_total", "go_goroutines"} {
		if !strings.Contains(prom, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

// replicaPID finds a demo app replica listening in [ports, ports+19].
func replicaPID(t *testing.T, ports int) int {
	t.Helper()
	pids := replicaPIDs(ports)
	if len(pids) == 0 {
		t.Fatalf("no replica found listening on ports %d-%d", ports, ports+19)
	}
	return pids[0]
}

// replicaPIDs lists the demo app replicas listening in [ports, ports+19].
func replicaPIDs(ports int) []int {
	var out []int
	demo := filepath.Join(binDir, "demoapp")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0})
		if len(args) < 3 || string(args[0]) != demo || string(args[1]) != "--listen" {
			continue
		}
		_, port, _ := strings.Cut(string(args[2]), ":")
		n, _ := strconv.Atoi(port)
		if n >= ports && n < ports+20 {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			out = append(out, pid)
		}
	}
	return out
}

func describe(ds []decision) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "  %s %-10s %d→%d applied=%v %s\n", d.Time.Format("15:04:05.000"), d.Action, d.From, d.To, d.Applied, d.Reason)
	}
	return b.String()
}
