// Package cluster runs Heady as a group of servers replicating state with
// hashicorp/raft, the consensus library behind Consul, Nomad and Vault.
//
// The store's group-committed write path is the seam: in cluster mode the
// store hands every batch to Node.Replicate, which appends it to the Raft
// log (on the leader) or forwards it to the leader over an authenticated
// RPC (on a follower). Once committed, the state machine applies the batch
// to each server's Badger with store.ApplyLocal. Snapshots are Badger
// backup streams; restore drops the database and loads the stream.
//
// All traffic between servers, Raft's and the RPCs', runs over one TCP
// listener whose connections must pass a mutual HMAC challenge over the
// shared cluster key.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/heady-dev/heady/host/store"
)

// NodeKeyPrefix holds each server's published record (API address, labels).
const NodeKeyPrefix = store.SpaceMeta + "cluster/node/"

// Config configures a cluster server.
type Config struct {
	// Bind is the address the cluster listener binds ("127.0.0.1:7946").
	Bind string
	// Advertise is the address other servers dial; it is also the server's
	// Raft ID. Defaults to Bind.
	Advertise string
	// Join lists other servers' cluster addresses. A server with no Raft
	// state first asks them to add it to a running cluster; if none can,
	// all servers listed bootstrap together with the same configuration.
	Join []string
	// Bootstrap, with no other server in Join, starts a one-server cluster
	// that others join later (so does a Join list naming only this
	// server). Otherwise a server with no state waits to be added.
	Bootstrap bool
	// Key is the shared cluster key (at least MinKeyLen bytes).
	Key []byte
	// Dir holds the Raft log, stable store and snapshots.
	Dir string
	// Store is the state machine's database.
	Store  *store.Store
	Logger *slog.Logger
	// APIAddr is this server's API base URL ("http://127.0.0.1:3000"),
	// published so that followers can forward requests to the leader.
	APIAddr string
	// Labels are this server's node labels.
	Labels map[string]string
	// Timing; defaults suit a LAN: 500ms, 500ms, 250ms.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// SnapshotThreshold is the number of log entries between snapshots
	// (default 8192).
	SnapshotThreshold uint64
	// ApplyTimeout bounds one replicated batch (default 10s).
	ApplyTimeout time.Duration
}

// NodeInfo is a server's published record.
type NodeInfo struct {
	ID      string            `json:"id"`
	Address string            `json:"address"`
	API     string            `json:"api"`
	Labels  map[string]string `json:"labels,omitempty"`
	Version string            `json:"version,omitempty"`
}

// Node is one running cluster server.
type Node struct {
	cfg    Config
	log    *slog.Logger
	raft   *raft.Raft
	fsm    *fsm
	mux    *mux
	trans  *raft.NetworkTransport
	logs   *raftboltdb.BoltStore
	notify chan bool
	done   chan struct{}

	rpcMu   sync.Mutex
	rpcConn *rpcClient

	failMu  sync.Mutex
	failing map[raft.ServerID]bool

	leaderChanges atomic.Uint64
	rejected      atomic.Uint64
	forwarded     atomic.Uint64
	obs           *raft.Observer
}

// Start opens the Raft state in cfg.Dir, starts the authenticated listener
// and joins or bootstraps the cluster. It returns as soon as Raft runs;
// a leader may not be elected yet.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if len(cfg.Key) < MinKeyLen {
		return nil, fmt.Errorf("cluster: key must be at least %d bytes", MinKeyLen)
	}
	if cfg.Store == nil {
		return nil, errors.New("cluster: no store")
	}
	if cfg.Bind == "" {
		return nil, errors.New("cluster: no bind address")
	}
	if cfg.Advertise == "" {
		cfg.Advertise = cfg.Bind
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = 500 * time.Millisecond
	}
	if cfg.ElectionTimeout <= 0 {
		cfg.ElectionTimeout = 500 * time.Millisecond
	}
	if cfg.LeaderLeaseTimeout <= 0 {
		cfg.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = 8192
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	adv, err := net.ResolveTCPAddr("tcp", cfg.Advertise)
	if err != nil {
		return nil, fmt.Errorf("cluster: advertise address %q: %w", cfg.Advertise, err)
	}
	if adv.IP == nil || adv.IP.IsUnspecified() {
		return nil, fmt.Errorf("cluster: advertise address %q must name a reachable IP", cfg.Advertise)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("cluster: create %s: %w", cfg.Dir, err)
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("component", "cluster"), fsm: newFSM(cfg.Store),
		notify: make(chan bool, 16), done: make(chan struct{}), failing: map[raft.ServerID]bool{}}

	ln, err := net.Listen("tcp", cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen on %s: %w", cfg.Bind, err)
	}
	n.mux = &mux{ln: ln, key: cfg.Key, log: n.log, raftCh: make(chan net.Conn, 16), rpc: n.serveRPC,
		done: make(chan struct{}), timeout: 5 * time.Second, rejected: func() { n.rejected.Add(1) }}
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{n.log}})
	n.trans = raft.NewNetworkTransportWithLogger(&streamLayer{m: n.mux, advertise: adv}, 3, 10*time.Second, hlog)

	fail := func(err error) (*Node, error) {
		_ = n.trans.Close()
		if n.logs != nil {
			_ = n.logs.Close()
		}
		return nil, err
	}
	n.logs, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db")})
	if err != nil {
		return fail(fmt.Errorf("cluster: open raft log: %w", err))
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog)
	if err != nil {
		return fail(fmt.Errorf("cluster: open snapshots: %w", err))
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Advertise)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = 5 * time.Millisecond
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = 4 * cfg.SnapshotThreshold
	rc.NotifyCh = n.notify
	rc.Logger = hlog
	hasState, err := raft.HasExistingState(n.logs, n.logs, snaps)
	if err != nil {
		return fail(fmt.Errorf("cluster: read raft state: %w", err))
	}
	n.raft, err = raft.NewRaft(rc, n.fsm, n.logs, n.logs, snaps, n.trans)
	if err != nil {
		return fail(fmt.Errorf("cluster: start raft: %w", err))
	}
	go n.mux.serve()
	n.watchHeartbeats()

	if !hasState {
		if err := n.joinOrBootstrap(ctx); err != nil {
			_ = n.Shutdown()
			return nil, err
		}
	}
	return n, nil
}

func (n *Node) joinOrBootstrap(ctx context.Context) error {
	self := n.cfg.Advertise
	var peers []string
	listed := n.cfg.Bootstrap
	for _, a := range n.cfg.Join {
		switch {
		case a == self:
			listed = true
		case a != "":
			peers = append(peers, a)
		}
	}
	for _, p := range peers {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := n.askJoin(cctx, p)
		cancel()
		if err == nil {
			n.log.Info("joined the cluster", "via", p)
			return nil
		}
		n.log.Debug("join attempt failed", "via", p, "err", err)
	}
	if len(peers) == 0 && !listed {
		n.log.Info("no raft state and nothing to join; waiting to be added with `heady cluster join`")
		return nil
	}
	servers := []raft.Server{{ID: raft.ServerID(self), Address: raft.ServerAddress(self), Suffrage: raft.Voter}}
	for _, p := range peers {
		servers = append(servers, raft.Server{ID: raft.ServerID(p), Address: raft.ServerAddress(p), Suffrage: raft.Voter})
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
	err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("cluster: bootstrap: %w", err)
	}
	n.log.Info("bootstrapped the cluster", "servers", len(servers))
	return nil
}

// askJoin asks the server at addr (or the leader it points to) to add us.
func (n *Node) askJoin(ctx context.Context, addr string) error {
	for hop := 0; hop < 3; hop++ {
		redirect, err := n.callAt(ctx, addr, rpcJoin, []byte(n.cfg.Advertise+"\x00"+n.cfg.Advertise))
		if err == nil {
			return nil
		}
		if redirect == "" {
			return err
		}
		addr = redirect
	}
	return errors.New("cluster: join: too many redirects")
}

func (n *Node) watchHeartbeats() {
	ch := make(chan raft.Observation, 64)
	n.obs = raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.LeaderObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(n.obs)
	go func() {
		for {
			select {
			case <-n.done:
				return
			case o := <-ch:
				n.failMu.Lock()
				switch d := o.Data.(type) {
				case raft.FailedHeartbeatObservation:
					n.failing[d.PeerID] = true
				case raft.ResumedHeartbeatObservation:
					delete(n.failing, d.PeerID)
				case raft.LeaderObservation:
					n.leaderChanges.Add(1)
					n.failing = map[raft.ServerID]bool{}
				}
				n.failMu.Unlock()
			}
		}
	}()
}

// Leadership delivers true when this server becomes leader and false when
// it stops being leader, in order.
func (n *Node) Leadership() <-chan bool { return n.notify }

// ID is this server's Raft ID (its advertised cluster address).
func (n *Node) ID() string { return n.cfg.Advertise }

// IsLeader reports whether this server leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Barrier waits until every entry committed before it is applied here
// (a new leader calls it before taking up its duties).
func (n *Node) Barrier(timeout time.Duration) error { return n.raft.Barrier(timeout).Error() }

// Leader returns the leader's ID and cluster address ("" when unknown).
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// LeaderAPI is the leader's published API address ("" when unknown).
func (n *Node) LeaderAPI() string {
	id, _ := n.Leader()
	if id == "" {
		return ""
	}
	info, err := n.Info(id)
	if err != nil {
		return ""
	}
	return info.API
}

// Info reads a server's published record.
func (n *Node) Info(id string) (NodeInfo, error) {
	var info NodeInfo
	err := n.cfg.Store.GetRecord(NodeKeyPrefix+id, &info)
	return info, err
}

// Publish writes this server's record (API address, labels) through the
// replicated log, retrying until a leader accepts it or ctx ends.
func (n *Node) Publish(ctx context.Context, version string) error {
	info := NodeInfo{ID: n.ID(), Address: n.cfg.Advertise, API: n.cfg.APIAddr, Labels: n.cfg.Labels, Version: version}
	b := store.MustEncode(info)
	for {
		err := n.cfg.Store.Apply(ctx, store.Put(NodeKeyPrefix+info.ID, b))
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-n.done:
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// LastContact is how long ago a follower last heard from the leader (0 on
// the leader itself, -1 when it never has): the bound on a local read's
// staleness.
func (n *Node) LastContact() time.Duration {
	if n.IsLeader() {
		return 0
	}
	t := n.raft.LastContact()
	if t.IsZero() {
		return -1
	}
	return time.Since(t)
}

// Replicate implements store.Replicator.
func (n *Node) Replicate(ctx context.Context, reqs [][]store.Op) ([]error, error) {
	data := encodeBatch(reqs)
	if n.IsLeader() {
		f := n.raft.Apply(data, n.cfg.ApplyTimeout)
		err := f.Error()
		if err == nil {
			res, _ := f.Response().(applyResult)
			return res.errs, res.err
		}
		if !errors.Is(err, raft.ErrNotLeader) {
			return nil, fmt.Errorf("%w: %v", store.ErrNotLeader, err)
		}
	}
	return n.forwardApply(ctx, data)
}

func (n *Node) forwardApply(ctx context.Context, data []byte) ([]error, error) {
	deadline := time.Now().Add(n.cfg.ApplyTimeout)
	for {
		_, addr := n.Leader()
		if addr != "" && addr != n.cfg.Advertise {
			errs, idx, err := n.applyAt(addr, data)
			if err == nil {
				n.forwarded.Add(1)
				// Read-your-writes on this server too.
				wctx, cancel := context.WithDeadline(context.Background(), deadline)
				n.fsm.waitApplied(idx, wctx.Done())
				cancel()
				return errs, nil
			}
			if !errors.Is(err, errRetry) {
				return nil, err
			}
		}
		if time.Now().After(deadline) {
			return nil, store.ErrNotLeader
		}
		select {
		case <-n.done:
			return nil, store.ErrNotLeader
		case <-time.After(25 * time.Millisecond):
		}
		if n.IsLeader() {
			return n.Replicate(ctx, mustDecode(data))
		}
	}
}

func mustDecode(b []byte) [][]store.Op {
	r, _ := decodeBatch(b)
	return r
}

// Member is one server in the Raft configuration.
type Member struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	API      string `json:"api,omitempty"`
	Suffrage string `json:"suffrage"`
	// State is "leader", "follower" (healthy, seen by the leader or self),
	// "failed" (the leader cannot reach it) or "unknown".
	State  string            `json:"state"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Members lists the servers in the current configuration.
func (n *Node) Members() ([]Member, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("cluster: members: %w", err)
	}
	leaderID, _ := n.Leader()
	leading := n.IsLeader()
	n.failMu.Lock()
	defer n.failMu.Unlock()
	var out []Member
	for _, s := range f.Configuration().Servers {
		m := Member{ID: string(s.ID), Address: string(s.Address), Suffrage: s.Suffrage.String(), State: "unknown"}
		switch {
		case string(s.ID) == leaderID:
			m.State = "leader"
		case leading && n.failing[s.ID]:
			m.State = "failed"
		case leading || string(s.ID) == n.ID():
			m.State = "follower"
		}
		if info, err := n.Info(m.ID); err == nil {
			m.API, m.Labels = info.API, info.Labels
		}
		out = append(out, m)
	}
	return out, nil
}

// Join adds the server at addr as a voter (its ID is its address). On a
// follower the request goes to the leader.
func (n *Node) Join(ctx context.Context, addr string) error {
	if _, err := net.ResolveTCPAddr("tcp", addr); err != nil {
		return fmt.Errorf("cluster: join: address %q: %w", addr, err)
	}
	return n.membership(ctx, rpcJoin, []byte(addr+"\x00"+addr), func() error {
		return n.raft.AddVoter(raft.ServerID(addr), raft.ServerAddress(addr), 0, n.cfg.ApplyTimeout).Error()
	})
}

// Remove removes a server (a dead one, or one leaving) from the cluster.
func (n *Node) Remove(ctx context.Context, id string) error {
	return n.membership(ctx, rpcRemove, []byte(id), func() error {
		return n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout).Error()
	})
}

// Leave takes this server out of the cluster: a leader first hands
// leadership over, then the (new) leader removes it.
func (n *Node) Leave(ctx context.Context) error {
	if n.IsLeader() {
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			n.log.Warn("leadership transfer before leave failed", "err", err)
		}
	}
	return n.Remove(ctx, n.ID())
}

func (n *Node) membership(ctx context.Context, method byte, payload []byte, local func() error) error {
	for {
		if n.IsLeader() {
			err := local()
			if err == nil || !errors.Is(err, raft.ErrNotLeader) {
				if err != nil {
					return fmt.Errorf("cluster: membership: %w", err)
				}
				return nil
			}
		}
		if _, addr := n.Leader(); addr != "" && addr != n.cfg.Advertise {
			_, err := n.callAt(ctx, addr, method, payload)
			if err == nil || !errors.Is(err, errRetry) {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: membership: no leader: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Status is the cluster section of /status and /health.
type Status struct {
	ID            string   `json:"id"`
	State         string   `json:"state"`
	Leader        string   `json:"leader"`
	LeaderAPI     string   `json:"leader_api,omitempty"`
	Term          uint64   `json:"term"`
	CommitIndex   uint64   `json:"commit_index"`
	AppliedIndex  uint64   `json:"applied_index"`
	LastLogIndex  uint64   `json:"last_log_index"`
	LastContactMs int64    `json:"last_contact_ms"`
	Members       []Member `json:"members"`
}

// Status reports this server's view of the cluster.
func (n *Node) Status() Status {
	st := n.raft.Stats()
	u := func(k string) uint64 { v, _ := strconv.ParseUint(st[k], 10, 64); return v }
	id, _ := n.Leader()
	s := Status{ID: n.ID(), State: n.raft.State().String(), Leader: id, LeaderAPI: n.LeaderAPI(),
		Term: u("term"), CommitIndex: u("commit_index"), AppliedIndex: u("applied_index"), LastLogIndex: u("last_log_index"),
		LastContactMs: -1}
	if lc := n.LastContact(); lc >= 0 {
		s.LastContactMs = lc.Milliseconds()
	}
	s.Members, _ = n.Members()
	return s
}

// Shutdown stops Raft and the listener. The store stays open.
func (n *Node) Shutdown() error {
	select {
	case <-n.done:
		return nil
	default:
	}
	close(n.done)
	var errs []error
	if n.raft != nil {
		if n.obs != nil {
			n.raft.DeregisterObserver(n.obs)
		}
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := n.trans.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, err)
	}
	n.rpcMu.Lock()
	if n.rpcConn != nil {
		_ = n.rpcConn.conn.Close()
		n.rpcConn = nil
	}
	n.rpcMu.Unlock()
	if n.logs != nil {
		if err := n.logs.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// slogWriter adapts hclog's output to the host's structured logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}

var _ store.Replicator = (*Node)(nil)
var _ io.Writer = slogWriter{}

// Metrics are the figures exported to Prometheus.
type Metrics struct {
	Term, CommitIndex, AppliedIndex uint64
	// LastContact in seconds (0 on the leader, -1 never).
	LastContact                                      float64
	Peers                                            int
	LeaderChanges, Batches, Ops, Forwarded, Rejected uint64
}

// Metrics reads the current figures.
func (n *Node) Metrics() Metrics {
	st := n.raft.Stats()
	u := func(k string) uint64 { v, _ := strconv.ParseUint(st[k], 10, 64); return v }
	peers, _ := strconv.Atoi(st["num_peers"])
	m := Metrics{Term: u("term"), CommitIndex: u("commit_index"), AppliedIndex: u("applied_index"), Peers: peers + 1,
		LeaderChanges: n.leaderChanges.Load(), Batches: n.fsm.batches.Load(), Ops: n.fsm.ops.Load(),
		Forwarded: n.forwarded.Load(), Rejected: n.rejected.Load(), LastContact: -1}
	if lc := n.LastContact(); lc >= 0 {
		m.LastContact = lc.Seconds()
	}
	return m
}
