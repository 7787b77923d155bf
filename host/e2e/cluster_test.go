package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const testClusterKey = "e2e-cluster-key-0123456789abcdef"

const clusterPolicy = burstWorkflow + `
cluster {
  heartbeat_timeout = "500ms"
  election_timeout  = "500ms"
}

workflow "tick" {
  trigger "schedule" {
    cron = "@every 1s"
  }
  step "only" {
    action = "heady.noop"
  }
}
`

// testCluster is three heady servers on loopback: the first bootstraps a
// one-server cluster, the other two join it with --join.
type testCluster struct {
	t     *testing.T
	hosts []*hostProc
	raft  []string // cluster addresses
}

func startTestCluster(t *testing.T, pol string) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	for i := 0; i < 3; i++ {
		c.raft = append(c.raft, freePort(t))
	}
	env := []string{"HEADY_CLUSTER_KEY=" + testClusterKey}
	c.hosts = append(c.hosts, startHost(t, hostOpts{policies: pol, env: env,
		args: []string{"--server", "--bootstrap", "--cluster-addr", c.raft[0]}}))
	for i := 1; i < 3; i++ {
		c.hosts = append(c.hosts, startHost(t, hostOpts{policies: pol, env: env,
			args: []string{"--server", "--cluster-addr", c.raft[i], "--join", c.raft[0]}}))
	}
	eventually(t, 30*time.Second, "three servers with one leader", func() bool {
		l := c.leader(-1)
		if l < 0 {
			return false
		}
		st, err := c.status(l)
		if err != nil || len(st.Members) != 3 {
			return false
		}
		for _, m := range st.Members {
			if m.State != "leader" && m.State != "follower" {
				return false
			}
		}
		return true
	})
	return c
}

type clusterStatus struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Leader      string `json:"leader"`
	Term        uint64 `json:"term"`
	CommitIndex uint64 `json:"commit_index"`
	Members     []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"members"`
}

func (c *testCluster) status(i int) (clusterStatus, error) {
	var st clusterStatus
	err := c.hosts[i].admin().Do(bg(), http.MethodGet, "/cluster/status", nil, &st)
	return st, err
}

// leader returns the index of the server that says it leads (skipping
// skip), or -1.
func (c *testCluster) leader(skip int) int {
	for i := range c.hosts {
		if i == skip {
			continue
		}
		if st, err := c.status(i); err == nil && st.State == "Leader" {
			return i
		}
	}
	return -1
}

var eventHTTP = &http.Client{Timeout: 10 * time.Second}

// postEvent sends one event to server h and returns the status and event id.
func postEvent(h *hostProc, n int64) (int, string) {
	body, _ := json.Marshal(map[string]any{"type": "burst.item", "data": map[string]any{"n": n}})
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr+"/api/v1/automation/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := eventHTTP.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var out struct {
		EventID string `json:"event_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.EventID
}

// listExecutions lists a workflow's executions on a server that may be
// unreachable in the middle of a failover: an error is logged, not fatal.
func listExecutions(t *testing.T, h *hostProc, workflow string) []execRow {
	t.Helper()
	rows, err := pageExecutions(h, workflow)
	if err != nil {
		t.Logf("list executions: %v", err)
		return nil
	}
	return rows
}

// TestClusterElectsFailsOverAndForwards: three servers elect a leader;
// every server accepts writes (followers forward them); kill -9 of the
// leader elects a new one and writes continue. The time from the kill to
// the first successful write through a surviving server is logged.
func TestClusterElectsFailsOverAndForwards(t *testing.T) {
	t.Parallel()
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "cluster.hcl", clusterPolicy)
	c := startTestCluster(t, pol)
	lead := c.leader(-1)

	var ids []string
	for i, h := range c.hosts {
		code, id := postEvent(h, int64(i))
		if code != http.StatusAccepted {
			t.Fatalf("server %d answered %d to an event", i, code)
		}
		ids = append(ids, id)
	}
	// A follower answers a stale read itself and says how stale it may be.
	follower := (lead + 1) % 3
	req, _ := http.NewRequest(http.MethodGet, "http://"+c.hosts[follower].addr+"/api/v1/automation/health", nil)
	req.Header.Set("Authorization", "Bearer "+c.hosts[follower].token)
	req.Header.Set("X-Heady-Consistency", "stale")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Heady-Staleness-Ms") == "" {
		t.Fatalf("stale read on a follower: status %d, staleness header %q", resp.StatusCode, resp.Header.Get("X-Heady-Staleness-Ms"))
	}

	// /status carries the cluster section: leader, term, members.
	var st struct {
		Cluster *clusterStatus `json:"cluster"`
	}
	if err := c.hosts[follower].admin().Do(bg(), http.MethodGet, "/status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Cluster == nil || st.Cluster.Leader == "" || st.Cluster.Term == 0 || len(st.Cluster.Members) != 3 {
		t.Fatalf("cluster section of /status: %+v", st.Cluster)
	}

	// Raft metrics are exported (the follower forwards /metrics to the leader).
	if text := scrapeMetrics(t, c.hosts[follower]); !strings.Contains(text, `heady_raft_state{state="leader"} 1`) ||
		!strings.Contains(text, "heady_raft_commit_index") || !strings.Contains(text, "heady_raft_peers 3") {
		t.Fatalf("raft metrics missing from /metrics:\n%s", text)
	}

	before, _ := c.status(lead)
	c.hosts[lead].kill9()
	killed := time.Now()
	var failover time.Duration
	for n := int64(100); ; n++ {
		h := c.hosts[(lead+1+int(n%2))%3]
		if code, _ := postEvent(h, n); code == http.StatusAccepted {
			failover = time.Since(killed)
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatal("no write succeeded within 30s of killing the leader")
		}
	}
	t.Logf("failover: first accepted write %v after kill -9 of the leader", failover.Round(time.Millisecond))
	newLead := c.leader(lead)
	after, _ := c.status(newLead)
	if newLead < 0 || after.Term <= before.Term {
		t.Fatalf("no new leader with a later term: leader %d, term %d → %d", newLead, before.Term, after.Term)
	}
	waitStart := time.Now()
	defer func() {
		t.Logf("events finished %v after the new leader was found", time.Since(waitStart).Round(time.Millisecond))
	}()
	eventually(t, 30*time.Second, "the events sent before the kill to finish on the new leader", func() bool {
		done := map[string]bool{}
		for _, x := range listExecutions(t, c.hosts[newLead], "burst") {
			if x.Status == "succeeded" {
				done[x.Trigger.EventID] = true
			}
		}
		for _, id := range ids {
			if !done[id] {
				return false
			}
		}
		return true
	})
	if failover > 5*time.Second {
		t.Errorf("failover took %v, want under 5s (goal 2s)", failover)
	}

	// The dead server is removed through a follower's API (membership
	// changes go to the leader over the cluster RPC).
	follower = 3 - lead - newLead
	if err := c.hosts[follower].admin().Do(bg(), http.MethodDelete, "/cluster/members/"+url.PathEscape(before.ID), nil, nil); err != nil {
		t.Fatalf("remove the dead server: %v", err)
	}
	eventually(t, 10*time.Second, "two members left", func() bool {
		st, err := c.status(newLead)
		return err == nil && len(st.Members) == 2
	})
}

// TestClusterEventBurstLeaderKilled sends at least 5,000 events to the
// three servers in turn and kills the leader in the middle: every event
// answered 202 has exactly one execution, which completes, and the
// every-second schedule never fires twice for one tick.
func TestClusterEventBurstLeaderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("long cluster burst")
	}
	t.Parallel()
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "cluster.hcl", clusterPolicy)
	c := startTestCluster(t, pol)
	lead := c.leader(-1)

	var accepted sync.Map
	var nAccepted, next atomic.Int64
	dead := atomic.Int64{}
	dead.Store(-1)
	const total = 6000
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				target := int(i % 3)
				if int64(target) == dead.Load() {
					target = (target + 1) % 3
				}
				for attempt := 0; attempt < 200; attempt++ {
					code, id := postEvent(c.hosts[target], i)
					if code == http.StatusAccepted && id != "" {
						accepted.Store(id, i)
						nAccepted.Add(1)
						break
					}
					if code != http.StatusServiceUnavailable && code != 0 && code != http.StatusBadGateway {
						break
					}
					if int64(target) == dead.Load() {
						target = (target + 1) % 3
					}
					time.Sleep(20 * time.Millisecond) // back off while a new leader is elected
				}
			}
		}()
	}
	eventually(t, 120*time.Second, "2,500 events to be accepted", func() bool { return nAccepted.Load() >= 2500 })
	dead.Store(int64(lead))
	c.hosts[lead].kill9()
	wg.Wait()
	t.Logf("%d of %d events accepted; leader %d killed after 2,500", nAccepted.Load(), total, lead)
	if nAccepted.Load() < 5000 {
		t.Fatalf("only %d events accepted", nAccepted.Load())
	}
	var newLead int
	eventually(t, 30*time.Second, "a new leader", func() bool { newLead = c.leader(lead); return newLead >= 0 })

	byEvent := map[string]int{}
	eventually(t, 180*time.Second, "every accepted event to have a finished execution", func() bool {
		byEvent = map[string]int{}
		unfinished := 0
		for _, x := range listExecutions(t, c.hosts[newLead], "burst") {
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
	dups := 0
	accepted.Range(func(k, _ any) bool {
		if n := byEvent[k.(string)]; n != 1 {
			dups++
			if dups < 10 {
				t.Errorf("event %s has %d executions, want exactly 1", k, n)
			}
		}
		return true
	})
	ticks := map[time.Time]int{}
	for _, x := range listExecutions(t, c.hosts[newLead], "tick") {
		if x.Trigger.Kind == "schedule" {
			ticks[x.Trigger.ScheduledAt]++
		}
	}
	if len(ticks) < 3 {
		t.Fatalf("the every-second schedule fired only %d times", len(ticks))
	}
	for at, n := range ticks {
		if n != 1 {
			t.Errorf("schedule tick %s fired %d times", at.Format(time.RFC3339Nano), n)
		}
	}
	t.Logf("%d schedule ticks, each fired once", len(ticks))
}

// TestClusterPartitionedServerCatchesUp runs each server in its own network
// namespace, linked by veth pairs to a bridge in a fourth namespace (all
// created by the test; addresses are link-local and never leave them). The
// leader's link is cut: it stops accepting writes while the other two
// elect a leader and keep accepting them; when the link returns the old
// leader catches up with what it missed.
func TestClusterPartitionedServerCatchesUp(t *testing.T) {
	if testing.Short() {
		t.Skip("long cluster test")
	}
	t.Parallel()
	hub := newNetns(t)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("-n", hub, "link", "add", "br0", "type", "bridge")
	ip("-n", hub, "link", "set", "br0", "up")
	var nss, addrs []string
	for i := 0; i < 3; i++ {
		ns := newNetns(t)
		nss = append(nss, ns)
		hv := fmt.Sprintf("hv%d", i)
		ip("-n", hub, "link", "add", hv, "type", "veth", "peer", "name", "eth0", "netns", ns)
		ip("-n", hub, "link", "set", hv, "master", "br0")
		ip("-n", hub, "link", "set", hv, "up")
		addr := fmt.Sprintf("169.254.77.%d", i+1)
		ip("-n", ns, "addr", "add", addr+"/24", "dev", "eth0")
		ip("-n", ns, "link", "set", "eth0", "up")
		addrs = append(addrs, addr+":7946")
	}
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "cluster.hcl", clusterPolicy)
	env := []string{"HEADY_CLUSTER_KEY=" + testClusterKey}
	c := &testCluster{t: t, raft: addrs}
	c.hosts = append(c.hosts, startHost(t, hostOpts{policies: pol, env: env, netns: nss[0],
		args: []string{"--server", "--bootstrap", "--cluster-addr", addrs[0]}}))
	for i := 1; i < 3; i++ {
		c.hosts = append(c.hosts, startHost(t, hostOpts{policies: pol, env: env, netns: nss[i],
			args: []string{"--server", "--cluster-addr", addrs[i], "--join", addrs[0]}}))
	}
	eventually(t, 30*time.Second, "three members", func() bool {
		st, err := c.status(0)
		return err == nil && st.State == "Leader" && len(st.Members) == 3
	})
	// Every server's API listens on its own namespace's loopback, so the
	// test writes to whichever server leads.
	post := func(i int, n int64) int {
		body, _ := json.Marshal(map[string]any{"type": "burst.item", "data": map[string]any{"n": n}})
		var out map[string]any
		resp, err := c.hosts[i].admin().Raw(bg(), http.MethodPost, "/api/v1/automation/events", json.RawMessage(body))
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode
	}
	if code := post(0, 1); code != http.StatusAccepted {
		t.Fatalf("leader answered %d", code)
	}
	ip("-n", hub, "link", "set", "hv0", "down")
	var newLead int
	eventually(t, 30*time.Second, "a leader among the two connected servers", func() bool {
		newLead = c.leader(0)
		return newLead > 0
	})
	eventually(t, 10*time.Second, "the cut-off server to refuse writes", func() bool {
		return post(0, 2) == http.StatusServiceUnavailable
	})
	// The new leader takes up its duties right after the election.
	eventually(t, 10*time.Second, "the new leader to accept writes", func() bool {
		return post(newLead, 9) == http.StatusAccepted
	})
	var written int64
	for n := int64(10); n < 60; n++ {
		if code := post(newLead, n); code == http.StatusAccepted {
			written++
		} else {
			t.Logf("write %d: status %d", n, code)
		}
	}
	if written != 50 {
		t.Fatalf("the majority accepted %d of 50 writes", written)
	}
	if code := post(0, 99); code == http.StatusAccepted {
		t.Fatal("the cut-off server accepted a write")
	}
	target, _ := c.status(newLead)
	ip("-n", hub, "link", "set", "hv0", "up")
	var last clusterStatus
	eventually(t, 30*time.Second, "the old leader to catch up", func() bool {
		st, err := c.status(0)
		if err != nil {
			t.Logf("status of the old leader: %v", err)
			return false
		}
		if st.Term != last.Term || st.State != last.State || st.Leader != last.Leader {
			t.Logf("old leader: %s, term %d, leader %q, commit %d (target commit %d)", st.State, st.Term, st.Leader, st.CommitIndex, target.CommitIndex)
		}
		last = st
		return st.State == "Follower" && st.Leader != "" && st.CommitIndex >= target.CommitIndex
	})
	// Its own store now holds the events written while it was cut off.
	eventually(t, 30*time.Second, "the events to be readable on the old leader", func() bool {
		var page struct {
			Items []execRow `json:"items"`
		}
		resp, err := c.hosts[0].admin().Raw(bg(), http.MethodGet, "/api/v1/automation/workflows/burst/executions?limit=1000&stale=1", nil)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(&page)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Heady-Staleness-Ms") == "" || len(page.Items) < 52 {
			t.Logf("stale read on the old leader: status %d, staleness %q, %d executions",
				resp.StatusCode, resp.Header.Get("X-Heady-Staleness-Ms"), len(page.Items))
			return false
		}
		return true
	})
}

func scrapeMetrics(t *testing.T, h *hostProc) string {
	t.Helper()
	resp, err := h.admin().Raw(bg(), http.MethodGet, "/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// succeeded reads heady_workflow_executions_total{status="succeeded"}.
func succeeded(t *testing.T, h *hostProc) int {
	for _, line := range strings.Split(scrapeMetrics(t, h), "\n") {
		if v, ok := strings.CutPrefix(line, `heady_workflow_executions_total{status="succeeded"} `); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f)
		}
	}
	return -1
}

const benchPolicy = `
workflow "bench" {
  trigger "event" {
    type = "burst.*"
  }
  step "one" {
    action = "noop.ok"
    input {
      n = event.data.n
    }
  }
  step "two" {
    action     = "heady.noop"
    depends_on = ["one"]
  }
  step "three" {
    action     = "heady.noop"
    depends_on = ["two"]
  }
}
`

// TestClusterBenchThroughput measures executions/s of a 3-step workflow
// driven by events on one server and on a 3-server cluster (events sent
// to the three servers in turn), in the same run. It runs only with
// HEADY_CLUSTER_BENCH=1 (scripts/bench-cluster.sh).
func TestClusterBenchThroughput(t *testing.T) {
	if os.Getenv("HEADY_CLUSTER_BENCH") == "" {
		t.Skip("benchmark: set HEADY_CLUSTER_BENCH=1 (scripts/bench-cluster.sh)")
	}
	n := 5000
	if v, err := strconv.Atoi(os.Getenv("CLUSTER_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	run := func(targets []*hostProc, leader *hostProc) float64 {
		base := succeeded(t, leader)
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					for {
						code, _ := postEvent(targets[int(i)%len(targets)], i)
						if code == http.StatusAccepted {
							break
						}
						time.Sleep(10 * time.Millisecond) // back-pressure
					}
				}
			}()
		}
		wg.Wait()
		eventually(t, 5*time.Minute, "every execution to succeed", func() bool { return succeeded(t, leader)-base >= n })
		return float64(n) / time.Since(start).Seconds()
	}

	single := func() float64 {
		pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
		writePolicy(t, pol, "bench.hcl", benchPolicy)
		h := startHost(t, hostOpts{policies: pol})
		defer h.stop()
		return run([]*hostProc{h}, h)
	}()
	clustered := func() float64 {
		pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
		writePolicy(t, pol, "bench.hcl", benchPolicy)
		writePolicy(t, pol, "cluster.hcl", "cluster {}\n")
		c := startTestCluster(t, pol)
		defer func() {
			for _, h := range c.hosts {
				_ = h.stop()
			}
		}()
		return run(c.hosts, c.hosts[c.leader(-1)])
	}()
	fmt.Printf("cluster-bench: 3-step workflow, %d events: single server %.0f executions/s; 3-server cluster %.0f executions/s; cluster/single %.2f\n",
		n, single, clustered, clustered/single)
}

const pinnedPolicy = `
workflow "pinned" {
  trigger "event" {
    type = "pinned.run"
  }
  step "work" {
    action      = "exec.run"
    node_labels = { role = "edge" }
    timeout     = "60s"
    input {
      command = ["sleep", "3"]
    }
  }
}
`

// startWorkerAgent runs `heady agent --worker` against server h.
func startWorkerAgent(t *testing.T, h *hostProc, id, pol string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "heady"), "agent", "--server", "http://"+h.addr, "--token", h.token,
		"--id", id, "--name", id, "--labels", "role=edge", "--interval", "500ms", "--scan-every", "0",
		"--worker", "--policies", pol, "--plugins", filepath.Join(binDir, "plugins"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) { mu.Lock(); out.Write(p); mu.Unlock() })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("agent %s output:\n%s", id, out.String())
			mu.Unlock()
		}
	})
	return cmd
}

type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

type leaseStats struct {
	Pending int `json:"pending"`
	Leased  int `json:"leased"`
	Workers []struct {
		ID     string   `json:"id"`
		Leases []string `json:"leases"`
	} `json:"workers"`
}

// TestClusterAgentKilledMidStep pins a step to workers labelled role=edge:
// only the two `heady agent --worker` nodes match. The agent running it is
// killed with SIGKILL; its lease expires and the other agent runs the step,
// and the execution succeeds.
func TestClusterAgentKilledMidStep(t *testing.T) {
	if testing.Short() {
		t.Skip("long cluster test")
	}
	t.Parallel()
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "cluster.hcl", clusterPolicy)
	writePolicy(t, pol, "pinned.hcl", pinnedPolicy)
	c := startTestCluster(t, pol)
	lead := c.leader(-1)
	agents := map[string]*exec.Cmd{
		"edge-a": startWorkerAgent(t, c.hosts[(lead+1)%3], "edge-a", pol),
		"edge-b": startWorkerAgent(t, c.hosts[(lead+2)%3], "edge-b", pol),
	}
	leases := func() leaseStats {
		var st leaseStats
		_ = c.hosts[lead].admin().Do(bg(), http.MethodGet, "/cluster/leases", nil, &st)
		return st
	}
	eventually(t, 30*time.Second, "both agents to poll for work", func() bool {
		n := 0
		for _, w := range leases().Workers {
			if strings.HasPrefix(w.ID, "edge-") {
				n++
			}
		}
		return n == 2
	})
	var ev struct {
		EventID string `json:"event_id"`
	}
	if err := c.hosts[lead].admin().Do(bg(), http.MethodPost, "/events", map[string]any{"type": "pinned.run"}, &ev); err != nil {
		t.Fatal(err)
	}
	holder := ""
	eventually(t, 30*time.Second, "an agent to hold the step's lease", func() bool {
		for _, w := range leases().Workers {
			if len(w.Leases) > 0 {
				holder = w.ID
				return true
			}
		}
		return false
	})
	if agents[holder] == nil {
		t.Fatalf("the pinned step went to %q, not to an agent labelled role=edge", holder)
	}
	_ = syscall.Kill(-agents[holder].Process.Pid, syscall.SIGKILL)
	killed := time.Now()
	other := "edge-a"
	if holder == "edge-a" {
		other = "edge-b"
	}
	eventually(t, 30*time.Second, "the other agent to take the step over", func() bool {
		for _, w := range leases().Workers {
			if w.ID == other && len(w.Leases) > 0 {
				return true
			}
		}
		return false
	})
	t.Logf("step handed from %s to %s %v after the kill", holder, other, time.Since(killed).Round(time.Millisecond))
	eventually(t, 60*time.Second, "the execution to succeed", func() bool {
		for _, x := range listExecutions(t, c.hosts[lead], "pinned") {
			if x.Trigger.EventID == ev.EventID {
				if x.Status == "failed" || x.Status == "cancelled" {
					t.Fatalf("the execution ended %s", x.Status)
				}
				return x.Status == "succeeded"
			}
		}
		return false
	})
}
