package app

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/cluster"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/metrics"
	"github.com/heady-dev/heady/host/pluginhost"
	"github.com/heady-dev/heady/host/workflow"
)

// Cluster mode. Every server opens its own Badger and a Raft node; the
// store hands its group-committed batches to Raft, and the replicated state
// machine applies them on every server. The leader alone runs the duties
// that act on that state — the workflow engine (triggers, schedules,
// dispatch, resume), the subsystems (healing, scaling, discovery,
// intelligence, dashboard) and the audit sequencer. They start when this
// server becomes leader, after a barrier has applied every committed entry,
// and stop when it loses leadership. Followers serve the API by forwarding
// requests to the leader (see api.ClusterService).
type clusterState struct {
	node *cluster.Node
	// leading is true while this server leads and its duties run.
	leading atomic.Bool
	// used is set once an engine has been started: a workflow engine is
	// started once, so the next term builds a fresh one.
	used     bool
	duties   context.CancelFunc
	dutyDone chan struct{}
	hc       config.Host
	labels   map[string]string
	// queue is the lease queue while this server leads.
	queue atomic.Pointer[cluster.Queue]
	// workerToken authenticates servers' lease calls (derived from the key).
	workerToken string
}

// newEngine builds a workflow engine with the built-in actions and policy.
func (h *Host) newEngine(hc config.Host, pol *config.Policy) *workflow.Engine {
	var actions workflow.ActionRunner = pluginActions{h.plugins}
	if h.cluster != nil {
		actions = leaseActions{h}
	}
	e := workflow.New(h.store, workflow.Options{
		Actions: actions, Auditor: engineAuditor{h}, Logger: h.log,
		Workers: hc.Workers, EventQueue: hc.EventQueue, Vars: pol.Vars(),
		HistoryMaxAge: hc.HistoryMaxAge, HistoryMaxCount: hc.HistoryMaxCount,
	})
	h.registerBuiltins(e)
	if err := e.SetPolicy(pol); err != nil && h.log != nil {
		h.log.Warn("some workflows were not loaded", "err", err)
	}
	return e
}

// clusterConfig merges the policy's cluster block with the flags.
func (h *Host) clusterConfig(pol *config.Policy) config.Cluster {
	c := pol.Cluster
	o := h.opts
	if o.Server {
		c.Enabled = true
	}
	if len(o.Join) > 0 {
		c.Join = o.Join
	}
	if o.ClusterBind != "" {
		c.Bind = o.ClusterBind
		if c.Advertise == "" || o.Server {
			c.Advertise = o.ClusterBind
		}
	}
	if o.ClusterKey != "" {
		c.Key = o.ClusterKey
	}
	if o.Bootstrap {
		c.Bootstrap = true
	}
	return c
}

// startCluster starts the Raft node and puts it in front of the store's
// write path. Without cluster mode it does nothing.
func (h *Host) startCluster(ctx context.Context, pol *config.Policy, hc config.Host) error {
	c := h.clusterConfig(pol)
	if !c.Enabled {
		return nil
	}
	if len(c.Key) < cluster.MinKeyLen {
		return fmt.Errorf("cluster: a cluster key of at least %d bytes is required (cluster.key or HEADY_CLUSTER_KEY)", cluster.MinKeyLen)
	}
	node, err := cluster.Start(ctx, cluster.Config{
		Bind: c.Bind, Advertise: c.Advertise, Join: c.Join, Bootstrap: c.Bootstrap, Key: []byte(c.Key),
		Dir: filepath.Join(hc.DataDir, "raft"), Store: h.store, Logger: h.log, APIAddr: apiURL(hc.Listen, c), Labels: c.Labels,
		HeartbeatTimeout: c.HeartbeatTimeout, ElectionTimeout: c.ElectionTimeout,
	})
	if err != nil {
		return err
	}
	h.store.SetReplicator(node)
	h.cluster = &clusterState{node: node, hc: hc, labels: c.Labels, workerToken: cluster.WorkerToken([]byte(c.Key))}
	how := "bootstrapped or rejoined"
	if len(c.Join) > 0 {
		how = "joining " + strings.Join(c.Join, ",")
	}
	h.linef("✅ Cluster server %s started (%s)", node.ID(), how)
	return nil
}

// apiURL is the API base URL other servers use to reach this one.
func apiURL(listen string, c config.Cluster) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		adv := c.Advertise
		if adv == "" {
			adv = c.Bind
		}
		host, _, _ = net.SplitHostPort(adv)
	}
	return "http://" + net.JoinHostPort(host, port)
}

// prepareFollower leaves the duties stopped until leadership arrives: the
// API records no audit entries here (requests go to the leader).
func (h *Host) prepareFollower() {
	h.apiSvc.Audit = nil
	h.linef("✅ Cluster mode: workflows, subsystems and audit run on the leader")
}

// runCluster publishes this server's record and follows leadership.
func (h *Host) runCluster(ctx context.Context, hc config.Host) {
	cs := h.cluster
	if cs == nil {
		return
	}
	h.wg.Add(3)
	go func() {
		defer h.wg.Done()
		h.runWorker(ctx)
	}()
	go func() {
		defer h.wg.Done()
		if err := cs.node.Publish(ctx, Version); err != nil && ctx.Err() == nil {
			h.log.Warn("cluster: publish server record", "err", err)
		}
	}()
	go func() {
		defer h.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case lead := <-cs.node.Leadership():
				if lead {
					h.gainLeadership(ctx)
				} else {
					h.loseLeadership(ctx)
				}
			}
		}
	}()
}

func (h *Host) gainLeadership(ctx context.Context) {
	cs := h.cluster
	if err := cs.node.Barrier(30 * time.Second); err != nil {
		h.log.Error("cluster: barrier after election failed; not taking up leader duties", "err", err)
		return
	}
	if !cs.node.IsLeader() {
		return
	}
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	start := time.Now()
	pol := h.policy.Load()
	// A fresh audit sequencer continues the chain from the replicated head.
	if old := h.auditLog(); old != nil {
		_ = old.Close()
	}
	lg, err := audit.Open(ctx, h.store, audit.Options{Logger: h.log})
	if err != nil {
		h.log.Error("cluster: open audit log as leader", "err", err)
		return
	}
	cs.queue.Store(cluster.NewQueue(leaseTTL))
	var e *workflow.Engine
	if cs.used {
		e = h.newEngine(cs.hc, pol)
	}
	h.engineMu.Lock()
	h.audit = lg
	if e != nil {
		h.engine = e
	}
	h.engineMu.Unlock()
	cs.used = true
	if err := h.engine.Start(ctx); err != nil {
		h.log.Error("cluster: start workflow engine as leader", "err", err)
		return
	}
	// The subsystems set their parts on a copy of the API's services that
	// is published whole once everything runs: a request never sees a
	// half-started set.
	next := *h.apiSvc
	h.apiSvc = &next
	next.Workflows = h.engine
	if err := h.startSubsystems(ctx, pol); err != nil {
		h.log.Error("cluster: start subsystems as leader", "err", err)
	}
	next.Audit = h.audit
	h.api.SetServices(&next)
	dctx, cancel := context.WithCancel(ctx)
	cs.duties = cancel
	cs.dutyDone = make(chan struct{})
	go func(done chan struct{}, lg *audit.Log) {
		defer close(done)
		lg.RunRetention(dctx, cs.hc.AuditRetention, time.Hour)
	}(cs.dutyDone, lg)
	cs.leading.Store(true)
	h.log.Info("cluster: this server leads", "took", time.Since(start))
	wst := h.engine.Stats()
	h.linef("✅ Leading the cluster (term change took %s): auto-execution started for %d workflows (%d triggers)",
		time.Since(start).Round(time.Millisecond), wst.ActiveWorkflows, wst.Triggers)
	h.systemAudit(ctx, "cluster.leader", "server", cs.node.ID(), "success", nil)
}

func (h *Host) loseLeadership(ctx context.Context) {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	h.stopLeaderDutiesLocked(ctx)
}

// stopLeaderDuties stops the leader's duties (shutdown, leadership loss).
func (h *Host) stopLeaderDuties(ctx context.Context) {
	if h.cluster == nil {
		return
	}
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	h.stopLeaderDutiesLocked(ctx)
}

func (h *Host) stopLeaderDutiesLocked(ctx context.Context) {
	cs := h.cluster
	if !cs.leading.Swap(false) {
		return
	}
	h.log.Info("cluster: leadership lost; stopping leader duties")
	// Requests are forwarded from now on; local answers record no audit.
	next := *h.apiSvc
	next.Audit = nil
	h.apiSvc = &next
	h.api.SetServices(&next)
	if cs.duties != nil {
		cs.duties()
		<-cs.dutyDone
	}
	// Calls handed out as leases fail now; the next leader re-runs them.
	if q := cs.queue.Swap(nil); q != nil {
		q.Close()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, err := range h.stopSubsystems(sctx) {
		h.log.Warn("cluster: stop subsystem", "err", err)
	}
	if err := h.engine.Stop(sctx); err != nil {
		h.log.Warn("cluster: stop workflow engine", "err", err)
	}
	if lg := h.auditLog(); lg != nil {
		_ = lg.Close()
	}
}

func (h *Host) stopCluster() {
	if h.cluster != nil && h.cluster.node != nil {
		if err := h.cluster.node.Shutdown(); err != nil && h.log != nil {
			h.log.Warn("cluster: shutdown", "err", err)
		}
	}
}

// auditsHere reports whether this server sequences audit entries: always
// in single-server mode, only while leading in a cluster.
func (h *Host) auditsHere() bool {
	return h.cluster == nil || h.cluster.leading.Load()
}

// clusterAPI is the API's view of the cluster (nil in single-server mode).
func (h *Host) clusterAPI() api.ClusterService {
	if h.cluster == nil {
		return nil
	}
	return clusterAPI{h}
}

type clusterAPI struct{ h *Host }

func (c clusterAPI) Target() (local bool, leaderAPI string) {
	cs := c.h.cluster
	if cs.leading.Load() {
		return true, ""
	}
	id, _ := cs.node.Leader()
	if id == "" || id == cs.node.ID() {
		return false, ""
	}
	return false, cs.node.LeaderAPI()
}

func (c clusterAPI) Staleness() time.Duration { return c.h.cluster.node.LastContact() }

func (c clusterAPI) Status(context.Context) any { return c.h.cluster.node.Status() }

func (c clusterAPI) Members(context.Context) (any, error) { return c.h.cluster.node.Members() }

func (c clusterAPI) Join(ctx context.Context, addr string) error {
	return c.h.cluster.node.Join(ctx, addr)
}

func (c clusterAPI) Remove(ctx context.Context, id string) error {
	return c.h.cluster.node.Remove(ctx, id)
}

func (c clusterAPI) Leave(ctx context.Context) error { return c.h.cluster.node.Leave(ctx) }

// ClientSecret signs forwarded clients; like the worker token it derives
// from the cluster key, which every server holds.
func (c clusterAPI) ClientSecret() []byte { return []byte("client:" + c.h.cluster.workerToken) }

// clusterHealth is the cluster component of GET /health.
func (h *Host) clusterHealth(now time.Time) (api.HealthComponent, bool) {
	if h.cluster == nil {
		return api.HealthComponent{}, false
	}
	st := h.cluster.node.Status()
	alive := 0
	for _, m := range st.Members {
		if m.State == "leader" || m.State == "follower" {
			alive++
		}
	}
	status := "healthy"
	switch {
	case st.Leader == "":
		status = "unhealthy"
	case len(st.Members) > 0 && st.State == "Leader" && alive < len(st.Members):
		status = "degraded"
	}
	out := fmt.Sprintf("%s, leader %s, term %d, commit index %d, applied %d, %d members",
		strings.ToLower(st.State), orNone(st.Leader), st.Term, st.CommitIndex, st.AppliedIndex, len(st.Members))
	if st.LastContactMs > 0 {
		out += fmt.Sprintf(", last contact %dms ago", st.LastContactMs)
	}
	return api.HealthComponent{Name: "cluster", Type: "cluster", Status: status, Output: out, LastCheck: now, Since: h.started}, true
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// registerClusterMetrics adds the Raft gauges and counters to /metrics.
func (h *Host) registerClusterMetrics(r *metrics.Registry) {
	if h.cluster == nil {
		return
	}
	n := h.cluster.node
	r.AddLabeledFunc("heady_raft_state", "1 for this server's Raft state (follower, candidate, leader, shutdown).", "state", false, func() map[string]float64 {
		out := map[string]float64{"follower": 0, "candidate": 0, "leader": 0, "shutdown": 0}
		out[strings.ToLower(n.Status().State)] = 1
		return out
	})
	for _, m := range []struct {
		name, help string
		counter    bool
		fn         func(cluster.Metrics) float64
	}{
		{"heady_raft_term", "Current Raft term.", false, func(m cluster.Metrics) float64 { return float64(m.Term) }},
		{"heady_raft_commit_index", "Index of the last committed Raft entry.", false, func(m cluster.Metrics) float64 { return float64(m.CommitIndex) }},
		{"heady_raft_applied_index", "Index of the last Raft entry applied to the store.", false, func(m cluster.Metrics) float64 { return float64(m.AppliedIndex) }},
		{"heady_raft_last_contact_seconds", "Seconds since a follower last heard from the leader (0 on the leader, -1 never).", false, func(m cluster.Metrics) float64 { return m.LastContact }},
		{"heady_raft_peers", "Servers in the Raft configuration.", false, func(m cluster.Metrics) float64 { return float64(m.Peers) }},
		{"heady_raft_leader_changes_total", "Leader changes this server observed.", true, func(m cluster.Metrics) float64 { return float64(m.LeaderChanges) }},
		{"heady_raft_applied_batches_total", "Replicated write batches applied to the store.", true, func(m cluster.Metrics) float64 { return float64(m.Batches) }},
		{"heady_raft_applied_ops_total", "Store operations applied from the Raft log.", true, func(m cluster.Metrics) float64 { return float64(m.Ops) }},
		{"heady_raft_forwarded_batches_total", "Write batches this server forwarded to the leader.", true, func(m cluster.Metrics) float64 { return float64(m.Forwarded) }},
		{"heady_cluster_rejected_connections_total", "Cluster connections refused for failing the key challenge.", true, func(m cluster.Metrics) float64 { return float64(m.Rejected) }},
	} {
		fn := m.fn
		r.AddFunc(m.name, m.help, m.counter, func() float64 { return fn(n.Metrics()) })
	}
}

// leaseTTL is how long a worker may stay silent before its leases are
// handed to another worker; workers heartbeat every leaseTTL/4.
const leaseTTL = 3 * time.Second

// leaseActions is the engine's ActionRunner in cluster mode: every plugin
// step call becomes a lease on the leader's queue, run by whichever worker
// (server or agent, matching the step's node_labels) claims it. A lease
// lost with its worker is handed out again, keeping the idempotency key.
type leaseActions struct{ h *Host }

func (a leaseActions) RunAction(ctx context.Context, call workflow.ActionCall) (workflow.ActionResult, error) {
	b, err := json.Marshal(call)
	if err != nil {
		return workflow.ActionResult{}, fmt.Errorf("cluster: encode step call: %w", err)
	}
	for attempt := 1; ; attempt++ {
		q := a.h.cluster.queue.Load()
		if q == nil {
			return workflow.ActionResult{}, cluster.ErrQueueClosed
		}
		tr, err := q.Submit(ctx, b, call.NodeLabels)
		if errors.Is(err, cluster.ErrLeaseLost) && attempt < 10 {
			a.h.log.Warn("cluster: worker lost with a step; handing it to another", "execution", call.ExecutionID, "step", call.Step)
			continue
		}
		if err != nil {
			return workflow.ActionResult{}, err
		}
		if tr.Error != "" {
			return workflow.ActionResult{}, errors.New(tr.Error)
		}
		var res workflow.ActionResult
		if err := json.Unmarshal(tr.Result, &res); err != nil {
			return workflow.ActionResult{}, fmt.Errorf("cluster: decode step result: %w", err)
		}
		return res, nil
	}
}

// RunLeasedCall runs one leased step call with runner (servers and agents).
func RunLeasedCall(ctx context.Context, runner workflow.ActionRunner, t cluster.Task) cluster.TaskResult {
	var call workflow.ActionCall
	if err := json.Unmarshal(t.Call, &call); err != nil {
		return cluster.TaskResult{Error: "decode step call: " + err.Error()}
	}
	res, err := runner.RunAction(ctx, call)
	if err != nil {
		return cluster.TaskResult{Error: err.Error()}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return cluster.TaskResult{Error: "encode step result: " + err.Error()}
	}
	return cluster.TaskResult{Result: b}
}

// runWorker makes this server a worker: while it leads it claims from its
// own queue; otherwise from the leader's API.
func (h *Host) runWorker(ctx context.Context) {
	cs := h.cluster
	w := cluster.Worker{ID: cs.node.ID(), Labels: cs.labels}
	remote := cluster.HTTPSource{Token: cs.workerToken, Client: &http.Client{Timeout: 30 * time.Second}, Base: func() string {
		if api := cs.node.LeaderAPI(); api != "" {
			return api + api0
		}
		return ""
	}}
	src := switchSource{local: cluster.Local{Get: cs.queue.Load}, remote: remote, leading: cs.leading.Load}
	slots := max(cs.hc.Workers/4, 8)
	cluster.RunWorker(ctx, src, w, slots, leaseTTL/4, h.log, func(ctx context.Context, t cluster.Task) cluster.TaskResult {
		return RunLeasedCall(ctx, pluginActions{h.plugins}, t)
	})
}

const api0 = api.Prefix

// switchSource claims locally while leading, remotely otherwise.
type switchSource struct {
	local   cluster.Local
	remote  cluster.HTTPSource
	leading func() bool
}

func (s switchSource) pick() cluster.LeaseSource {
	if s.leading() {
		return s.local
	}
	return s.remote
}

func (s switchSource) Claim(ctx context.Context, w cluster.Worker, n int) ([]cluster.Task, error) {
	return s.pick().Claim(ctx, w, n)
}

func (s switchSource) Heartbeat(ctx context.Context, w cluster.Worker, ids []string) ([]string, error) {
	return s.pick().Heartbeat(ctx, w, ids)
}

func (s switchSource) Complete(ctx context.Context, w cluster.Worker, id string, r cluster.TaskResult) error {
	return s.pick().Complete(ctx, w, id, r)
}

func (c clusterAPI) Leases() *cluster.Queue { return c.h.cluster.queue.Load() }

// AuthorizeWorker accepts the servers' worker token and API tokens with
// the operator or admin role (agents).
func (c clusterAPI) AuthorizeWorker(ctx context.Context, bearer string) bool {
	if bearer == "" {
		return false
	}
	if hmac.Equal([]byte(bearer), []byte(c.h.cluster.workerToken)) {
		return true
	}
	tok, err := c.h.auth.Authenticate(ctx, bearer)
	return err == nil && (tok.Role == "operator" || tok.Role == "admin")
}

// PluginRunner runs step calls with a plugin host (agents' workers).
func PluginRunner(m *pluginhost.Manager) workflow.ActionRunner { return pluginActions{m} }

// eng is the workflow engine in force (a cluster server builds a new one
// each time it becomes leader again).
func (h *Host) eng() *workflow.Engine {
	h.engineMu.RLock()
	defer h.engineMu.RUnlock()
	return h.engine
}

// auditLog is the audit log in force (a new leader reopens it).
func (h *Host) auditLog() *audit.Log {
	h.engineMu.RLock()
	defer h.engineMu.RUnlock()
	return h.audit
}
