// Package registry tracks the nodes of a Heady fleet, the services they
// declare, their liveness from heartbeats, and the connections between
// them.
//
// A node is alive while heartbeats arrive within its TTL, suspect after one
// TTL without a heartbeat and dead after two; every transition produces an
// event (node.alive, node.suspect, node.dead) through the Emit callback.
// Connections are kept in two sets: declared ones come from the policies
// (service depends_on) and observed ones from what nodes report in their
// heartbeats (established connections to another known service). Topology
// exports the whole graph as JSON, Graphviz DOT or Mermaid.
//
// Every change of node state is written through store.Apply under
// registry/node/ so a restarted host knows its fleet again.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heady-dev/heady/host/store"
)

// Node states.
const (
	StateAlive   = "alive"
	StateSuspect = "suspect"
	StateDead    = "dead"
)

// DefaultTTL is the heartbeat TTL of a node that declares none.
const DefaultTTL = 30 * time.Second

var (
	// ErrNotFound is returned for an unknown node id.
	ErrNotFound = errors.New("registry: node not found")
	// ErrInvalid wraps validation failures of a registration or heartbeat.
	ErrInvalid = errors.New("registry: invalid")
)

var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

const nodePrefix = store.SpaceRegistry + "node/"

// Service is a service a node declares or reports.
type Service struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Kind     string            `json:"kind,omitempty"`
	Address  string            `json:"address,omitempty"`
	Port     int               `json:"port,omitempty"`
	URL      string            `json:"url,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Metadata map[string]any    `json:"metadata,omitempty"`
	Health   string            `json:"health,omitempty"`
	// DependsOn names other services (by name) this one needs: declared
	// edges.
	DependsOn []string `json:"depends_on,omitempty"`
}

// Node is one machine or process of the fleet.
type Node struct {
	ID            string             `json:"id"`
	Name          string             `json:"name"`
	Address       string             `json:"address,omitempty"`
	Labels        map[string]string  `json:"labels,omitempty"`
	Version       string             `json:"version,omitempty"`
	State         string             `json:"state"`
	TTL           Duration           `json:"ttl"`
	Self          bool               `json:"self,omitempty"`
	Source        string             `json:"source,omitempty"`
	RegisteredAt  time.Time          `json:"registered_at"`
	LastHeartbeat time.Time          `json:"last_heartbeat"`
	StateSince    time.Time          `json:"state_since"`
	Metrics       map[string]float64 `json:"metrics,omitempty"`
	Services      []Service          `json:"services,omitempty"`
	// Connections are the remote addresses (host:port) the node reported
	// being connected to in its last heartbeat.
	Connections []string `json:"connections,omitempty"`
}

// Registration is the input of Register.
type Registration struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Address  string            `json:"address"`
	Labels   map[string]string `json:"labels"`
	Version  string            `json:"version"`
	TTL      Duration          `json:"ttl"`
	Services []Service         `json:"services"`
	// Source says who registered it (api, agent, scaler, host).
	Source string `json:"source,omitempty"`
}

// Heartbeat is the input of Heartbeat.
type Heartbeat struct {
	Metrics map[string]float64 `json:"metrics"`
	// Services, when non-nil, replaces the node's service list.
	Services    []Service `json:"services"`
	Connections []string  `json:"connections"`
}

// Options configure a Registry.
type Options struct {
	Logger *slog.Logger
	// Emit publishes node events; nil drops them.
	Emit func(ctx context.Context, typ string, data map[string]any)
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// OnServices, when set, receives a node after a registration or
	// heartbeat that carried its service list.
	OnServices func(ctx context.Context, n Node)
}

// Registry is the node registry. It is safe for concurrent use.
type Registry struct {
	st   *store.Store
	opts Options

	mu       sync.RWMutex
	nodes    map[string]*Node
	declared []Edge
}

// Open loads the registry from the store.
func Open(ctx context.Context, st *store.Store, opts Options) (*Registry, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Registry{st: st, opts: opts, nodes: map[string]*Node{}}
	err := st.Scan(store.ScanOptions{Prefix: nodePrefix}, func(key string, val []byte) (bool, error) {
		var n Node
		if err := store.Decode(val, &n); err != nil {
			opts.Logger.Warn("registry: skip unreadable node", "key", key, "err", err)
			return true, nil
		}
		r.nodes[n.ID] = &n
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry: load: %w", err)
	}
	return r, nil
}

func (r *Registry) emit(ctx context.Context, typ string, n *Node, extra map[string]any) {
	if r.opts.Emit == nil {
		return
	}
	data := map[string]any{"id": n.ID, "name": n.Name, "address": n.Address, "state": n.State, "labels": toAnyMap(n.Labels)}
	maps.Copy(data, extra)
	r.opts.Emit(ctx, typ, data)
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (r *Registry) persist(ctx context.Context, n *Node) error {
	b, err := store.Encode(n)
	if err != nil {
		return err
	}
	return r.st.Apply(ctx, store.Put(nodePrefix+n.ID, b))
}

func validServices(svcs []Service) error {
	for i := range svcs {
		if svcs[i].Name == "" && svcs[i].ID == "" {
			return fmt.Errorf("%w: services[%d]: name or id is required", ErrInvalid, i)
		}
		if svcs[i].ID == "" {
			svcs[i].ID = svcs[i].Name
		}
		if svcs[i].Name == "" {
			svcs[i].Name = svcs[i].ID
		}
	}
	return nil
}

// Register adds or replaces a node and marks it alive. Registering an
// existing id keeps its registration time.
func (r *Registry) Register(ctx context.Context, reg Registration) (Node, error) {
	if reg.ID == "" {
		reg.ID = reg.Name
	}
	if !idRe.MatchString(reg.ID) {
		return Node{}, fmt.Errorf("%w: id %q: use letters, digits, '_', '.', ':' and '-' (at most 128)", ErrInvalid, reg.ID)
	}
	if reg.TTL < 0 {
		return Node{}, fmt.Errorf("%w: ttl must not be negative", ErrInvalid)
	}
	if err := validServices(reg.Services); err != nil {
		return Node{}, err
	}
	if reg.TTL == 0 {
		reg.TTL = Duration(DefaultTTL)
	}
	if reg.Name == "" {
		reg.Name = reg.ID
	}
	now := r.opts.Now()
	r.mu.Lock()
	old := r.nodes[reg.ID]
	n := &Node{ID: reg.ID, Name: reg.Name, Address: reg.Address, Labels: reg.Labels, Version: reg.Version,
		State: StateAlive, TTL: reg.TTL, Source: reg.Source, RegisteredAt: now, LastHeartbeat: now, StateSince: now,
		Services: reg.Services}
	wasAlive := false
	if old != nil {
		n.RegisteredAt = old.RegisteredAt
		n.Self = old.Self
		n.Metrics = old.Metrics
		if old.State == StateAlive {
			n.StateSince = old.StateSince
			wasAlive = true
		}
	}
	r.nodes[n.ID] = n
	cp := n.clone()
	r.mu.Unlock()
	if err := r.persist(ctx, &cp); err != nil {
		return Node{}, fmt.Errorf("registry: register %s: %w", reg.ID, err)
	}
	if r.opts.OnServices != nil && reg.Services != nil {
		r.opts.OnServices(ctx, cp)
	}
	if old == nil {
		r.emit(ctx, "node.registered", &cp, map[string]any{"source": cp.Source})
	} else if !wasAlive {
		r.emit(ctx, "node.alive", &cp, map[string]any{"previous": old.State})
	}
	return cp, nil
}

// MarkSelf flags a node as the host itself (it never goes stale while the
// host runs: the host refreshes it).
func (r *Registry) MarkSelf(id string) {
	r.mu.Lock()
	if n := r.nodes[id]; n != nil {
		n.Self = true
	}
	r.mu.Unlock()
}

// Heartbeat records a heartbeat of node id and makes it alive again.
func (r *Registry) Heartbeat(ctx context.Context, id string, hb Heartbeat) (Node, error) {
	if hb.Services != nil {
		if err := validServices(hb.Services); err != nil {
			return Node{}, err
		}
	}
	now := r.opts.Now()
	r.mu.Lock()
	n := r.nodes[id]
	if n == nil {
		r.mu.Unlock()
		return Node{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	prev := n.State
	n.LastHeartbeat = now
	if hb.Metrics != nil {
		n.Metrics = hb.Metrics
	}
	if hb.Services != nil {
		n.Services = hb.Services
	}
	if hb.Connections != nil {
		n.Connections = hb.Connections
	}
	if prev != StateAlive {
		n.State, n.StateSince = StateAlive, now
	}
	cp := n.clone()
	r.mu.Unlock()
	if err := r.persist(ctx, &cp); err != nil {
		return Node{}, fmt.Errorf("registry: heartbeat %s: %w", id, err)
	}
	if r.opts.OnServices != nil && hb.Services != nil {
		r.opts.OnServices(ctx, cp)
	}
	if prev != StateAlive {
		r.emit(ctx, "node.alive", &cp, map[string]any{"previous": prev})
	}
	return cp, nil
}

// Deregister removes a node.
func (r *Registry) Deregister(ctx context.Context, id string) error {
	r.mu.Lock()
	n := r.nodes[id]
	if n == nil {
		r.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	delete(r.nodes, id)
	cp := n.clone()
	r.mu.Unlock()
	if err := r.st.Apply(ctx, store.Delete(nodePrefix+id)); err != nil {
		return fmt.Errorf("registry: deregister %s: %w", id, err)
	}
	r.emit(ctx, "node.deregistered", &cp, nil)
	return nil
}

// Get returns one node.
func (r *Registry) Get(id string) (Node, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := r.nodes[id]
	if n == nil {
		return Node{}, false
	}
	return n.clone(), true
}

// Nodes returns every node sorted by id.
func (r *Registry) Nodes() []Node {
	r.mu.RLock()
	out := make([]Node, 0, len(r.nodes))
	for _, n := range r.nodes {
		out = append(out, n.clone())
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Counts returns the number of nodes per state.
func (r *Registry) Counts() map[string]int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := map[string]int{StateAlive: 0, StateSuspect: 0, StateDead: 0}
	for _, n := range r.nodes {
		out[n.State]++
	}
	return out
}

// Sweep re-evaluates every node's liveness against its TTL and returns the
// transitions it made. The host's own node is kept alive.
func (r *Registry) Sweep(ctx context.Context) []Transition {
	now := r.opts.Now()
	var changed []Node
	var trs []Transition
	r.mu.Lock()
	for _, n := range r.nodes {
		if n.Self {
			continue
		}
		ttl := time.Duration(n.TTL)
		if ttl <= 0 {
			ttl = DefaultTTL
		}
		age := now.Sub(n.LastHeartbeat)
		want := StateAlive
		switch {
		case age >= 2*ttl:
			want = StateDead
		case age >= ttl:
			want = StateSuspect
		}
		if want == n.State || (want == StateSuspect && n.State == StateDead) {
			continue
		}
		trs = append(trs, Transition{ID: n.ID, From: n.State, To: want, SilentFor: age})
		n.State, n.StateSince = want, now
		changed = append(changed, n.clone())
	}
	r.mu.Unlock()
	if len(changed) == 0 {
		return nil
	}
	ops := make([]store.Op, 0, len(changed))
	for i := range changed {
		if b, err := store.Encode(&changed[i]); err == nil {
			ops = append(ops, store.Put(nodePrefix+changed[i].ID, b))
		}
	}
	if err := r.st.Apply(ctx, ops...); err != nil {
		r.opts.Logger.Error("registry: persist liveness", "err", err)
	}
	for i, tr := range trs {
		r.emit(ctx, "node."+tr.To, &changed[i], map[string]any{"previous": tr.From, "silent_for": tr.SilentFor.String()})
	}
	return trs
}

// Transition is one liveness change made by Sweep.
type Transition struct {
	ID        string        `json:"id"`
	From      string        `json:"from"`
	To        string        `json:"to"`
	SilentFor time.Duration `json:"silent_for"`
}

// Run sweeps every interval until ctx ends.
func (r *Registry) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Sweep(ctx)
		}
	}
}

// SetDeclared replaces the declared (policy) dependency edges.
func (r *Registry) SetDeclared(edges []Edge) {
	for i := range edges {
		edges[i].Kind = EdgeDeclared
	}
	r.mu.Lock()
	r.declared = slices.Clone(edges)
	r.mu.Unlock()
}

func (n *Node) clone() Node {
	c := *n
	c.Labels = maps.Clone(n.Labels)
	c.Metrics = maps.Clone(n.Metrics)
	c.Services = slices.Clone(n.Services)
	c.Connections = slices.Clone(n.Connections)
	return c
}

// Duration is a time.Duration that reads and writes JSON as "30s" (and
// accepts a number of seconds).
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*d = 0
		return nil
	}
	if v, err := time.ParseDuration(s); err == nil {
		*d = Duration(v)
		return nil
	}
	var secs float64
	if _, err := fmt.Sscanf(s, "%g", &secs); err != nil {
		return fmt.Errorf("duration %q: use a Go duration such as \"30s\" or a number of seconds", s)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}
