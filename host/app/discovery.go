package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/discovery"
	"github.com/heady-dev/heady/host/discovery/mdns"
	"github.com/heady-dev/heady/host/pluginhost"
	"github.com/heady-dev/heady/host/registry"
	"github.com/heady-dev/heady/sdk"
)

func init() {
	registerSubsystem(func(h *Host) Subsystem { return &discoverySubsystem{h: h} })
}

// discoverySubsystem runs the node registry, the discovery engine and the
// host's own mDNS announcement.
type discoverySubsystem struct {
	h      *Host
	reg    *registry.Registry
	eng    *discovery.Engine
	selfID string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	announce *mdns.Responder
}

func (d *discoverySubsystem) Name() string { return "discovery" }

// selfNodeID is stable for a host name and data directory.
func selfNodeID(name, dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sum := sha256.Sum256([]byte(abs))
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '-'
	}, name)
	if clean == "" {
		clean = "heady"
	}
	return clean + "-" + hex.EncodeToString(sum[:4])
}

func (d *discoverySubsystem) Start(ctx context.Context, pol *config.Policy) (string, error) {
	h := d.h
	var err error
	d.reg, err = registry.Open(ctx, h.store, registry.Options{
		Logger: h.log,
		Emit:   d.onNodeEvent,
		OnServices: func(ctx context.Context, n registry.Node) {
			if n.Self {
				return
			}
			d.eng.Report(ctx, "node:"+n.ID, "agent", "heartbeat", nodeServices(n), nil)
		},
	})
	if err != nil {
		return "", err
	}
	d.eng, err = discovery.New(h.store, discovery.Options{Logger: h.log, Emit: d.onServiceEvent})
	if err != nil {
		return "", err
	}
	hc := pol.Host
	h.applyFlags(&hc)
	d.selfID = selfNodeID(hc.Name, hc.DataDir)
	if _, err := d.reg.Register(ctx, registry.Registration{ID: d.selfID, Name: hc.Name, Address: advertised(hc.Listen),
		Version: Version, Source: "host", TTL: registry.Duration(30 * time.Second),
		Labels: map[string]string{"role": "host", "os": runtime.GOOS, "arch": runtime.GOARCH}}); err != nil {
		return "", err
	}
	d.reg.MarkSelf(d.selfID)

	h.registerMaintenance("registry.register_node", d.maintRegister)
	h.registerMaintenance("registry.deregister_node", d.maintDeregister)
	h.registerMaintenance("registry.heartbeat", d.maintHeartbeat)

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	d.wg.Add(2)
	go func() { defer d.wg.Done(); d.reg.Run(runCtx, time.Second) }()
	go func() { defer d.wg.Done(); d.selfHeartbeat(runCtx) }()

	n := d.apply(ctx, pol)
	d.eng.Start(runCtx)
	h.apiSvc.Discovery = &api.DiscoveryServices{Engine: d.eng, Registry: d.reg}
	return fmt.Sprintf("Auto-discovery system started (%d sources; node %s registered)", n, d.selfID), nil
}

// advertised turns a listen address into one others can reach.
func advertised(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func (d *discoverySubsystem) selfHeartbeat(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cpu, mem := d.h.sampler.current()
			_, _ = d.reg.Heartbeat(ctx, d.selfID, registry.Heartbeat{Metrics: map[string]float64{"cpu": cpu, "memory": mem}})
		}
	}
}

// onServiceEvent publishes a discovery event; a service that appeared or
// went away is also recorded in the audit trail.
func (d *discoverySubsystem) onServiceEvent(ctx context.Context, typ string, data map[string]any) {
	d.h.emitHostEvent(ctx, typ, data)
	if typ != "service.discovered" && typ != "service.lost" {
		return
	}
	id, _ := data["id"].(string)
	details := map[string]any{}
	for _, k := range []string{"name", "kind", "url", "address", "port", "protocol"} {
		if v, ok := data[k]; ok && v != "" && v != 0 {
			details[k] = v
		}
	}
	d.h.appendAudit(ctx, audit.Entry{Actor: "auto-discovery", ActorKind: audit.ActorSystem,
		Action: "discovery." + strings.TrimPrefix(typ, "service."), ResourceType: "discovered_service", ResourceID: id,
		Outcome: audit.OutcomeSuccess, Details: details})
}

func (d *discoverySubsystem) onNodeEvent(ctx context.Context, typ string, data map[string]any) {
	d.h.emitHostEvent(ctx, typ, data)
	id, _ := data["id"].(string)
	switch typ {
	case "node.dead", "node.deregistered":
		// A dead node's services are lost.
		d.eng.Report(ctx, "node:"+id, "agent", typ, nil, nil)
	case "node.suspect":
		d.h.log.Warn("node missed its heartbeats", "node", id)
	}
}

func nodeServices(n registry.Node) []sdk.Service {
	out := make([]sdk.Service, 0, len(n.Services))
	for _, s := range n.Services {
		labels := map[string]string{"node": n.ID}
		for k, v := range s.Labels {
			labels[k] = v
		}
		md := map[string]any{"node": n.ID}
		for k, v := range s.Metadata {
			md[k] = v
		}
		id := s.ID
		if !strings.Contains(id, "-") {
			id = n.ID + "-" + id
		}
		out = append(out, sdk.Service{ID: id, Name: s.Name, Kind: s.Kind, Address: s.Address, Port: s.Port,
			URL: s.URL, Protocol: s.Kind, Labels: labels, Metadata: md, Health: s.Health})
	}
	return out
}

// apply turns the policy's discovery blocks into sources and refreshes
// the declared dependencies; it returns the number of sources.
func (d *discoverySubsystem) apply(ctx context.Context, pol *config.Policy) int {
	h := d.h
	var srcs []discovery.Source
	wantAnnounce := false
	for _, b := range pol.Discovery {
		if !b.Enabled {
			continue
		}
		var schema sdk.Schema
		builtin := !strings.Contains(b.Protocol, ".")
		if builtin {
			spec, ok := discovery.Specs[b.Protocol]
			if !ok {
				h.log.Warn("discovery: unknown protocol", "discovery", b.Name, "protocol", b.Protocol)
				continue
			}
			schema = spec.Inputs
		} else if info, ok := h.plugins.Component(b.Protocol); ok {
			schema = info.Inputs
		}
		cfg, diags := pluginhost.DecodeConfig(b.Config, schema, pol.EvalContext(nil))
		if diags.HasErrors() {
			h.log.Warn("discovery: invalid configuration; source skipped", "discovery", b.Name, "err", diags.Error())
			continue
		}
		var sc discovery.Scanner
		if builtin {
			var err error
			sc, err = discovery.NewScanner(b.Protocol, d.reg.Nodes)
			if err != nil {
				h.log.Warn("discovery: source skipped", "discovery", b.Name, "err", err)
				continue
			}
			if b.Protocol == discovery.ProtocolMDNS {
				if v, ok := cfg["announce"].(bool); !ok || v {
					wantAnnounce = true
				}
				sc = d.mdnsScanner(sc.(*mdns.Scanner))
			}
		} else {
			name := b.Protocol
			sc = discovery.ScannerFunc(func(ctx context.Context, s sdk.Scope) ([]sdk.Service, error) {
				svcs, _, err := h.plugins.Scan(ctx, name, s)
				return svcs, err
			})
		}
		srcs = append(srcs, discovery.Source{Name: b.Name, Protocol: b.Protocol, Interval: b.Interval,
			Scope: sdk.Scope{Name: b.Name, Targets: b.Targets, Ports: b.Ports, Config: cfg}, Scanner: sc})
	}
	d.eng.SetSources(srcs)
	d.setAnnounce(ctx, pol, wantAnnounce)
	var edges []registry.Edge
	for _, s := range pol.Services {
		for _, dep := range s.DependsOn {
			edges = append(edges, registry.Edge{From: s.Name, To: dep, Reason: "service " + s.Name + " depends_on " + dep})
		}
	}
	d.reg.SetDeclared(edges)
	return len(srcs)
}

// mdnsScanner leaves the host's own announcement out of its browse.
func (d *discoverySubsystem) mdnsScanner(sc *mdns.Scanner) discovery.Scanner {
	return discovery.ScannerFunc(func(ctx context.Context, s sdk.Scope) ([]sdk.Service, error) {
		d.mu.Lock()
		if d.announce != nil {
			sc.Exclude = d.announce.InstanceName()
		}
		d.mu.Unlock()
		return sc.Scan(ctx, s)
	})
}

func (d *discoverySubsystem) setAnnounce(ctx context.Context, pol *config.Policy, want bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !want {
		if d.announce != nil {
			_ = d.announce.Close()
			d.announce = nil
		}
		return
	}
	if d.announce != nil {
		return
	}
	hc := pol.Host
	d.h.applyFlags(&hc)
	port := 0
	if _, p, err := net.SplitHostPort(hc.Listen); err == nil {
		port, _ = strconv.Atoi(p)
	}
	r, err := mdns.Announce(ctx, mdns.Announcement{Instance: "heady-" + hc.Name, Host: "heady-" + d.selfID, Port: port,
		TXT: map[string]string{"id": d.selfID, "version": Version, "api": "/api/v1/automation"}})
	if err != nil {
		d.h.log.Warn("mdns: not announcing this host", "err", err)
		return
	}
	d.announce = r
}

func (d *discoverySubsystem) Reload(ctx context.Context, pol *config.Policy) error {
	d.apply(ctx, pol)
	return nil
}

func (d *discoverySubsystem) Stop(ctx context.Context) error {
	if d.cancel != nil {
		d.cancel()
	}
	if d.eng != nil {
		d.eng.Stop()
	}
	d.wg.Wait()
	d.mu.Lock()
	if d.announce != nil {
		_ = d.announce.Close()
		d.announce = nil
	}
	d.mu.Unlock()
	return nil
}

// ContributeStatus fills discovery.services and raises scaling.active_nodes
// to the number of alive registry nodes.
func (d *discoverySubsystem) ContributeStatus(_ context.Context, st *api.Status) {
	if d.eng == nil || d.reg == nil {
		return
	}
	st.Discovery.Services = d.eng.Count()
	if alive := d.reg.Counts()[registry.StateAlive]; alive > st.Scaling.ActiveNodes {
		st.Scaling.ActiveNodes = alive
	}
}

// Maintenance operations for plugins (sdk Host.Maintenance):
//
//	registry.register_node   {id, name?, address?, labels?, version?, ttl?}
//	registry.heartbeat       {id, metrics?}
//	registry.deregister_node {id}
func (d *discoverySubsystem) maintRegister(ctx context.Context, args map[string]any) (map[string]any, error) {
	reg := registry.Registration{Source: "plugin"}
	reg.ID, _ = args["id"].(string)
	reg.Name, _ = args["name"].(string)
	reg.Address, _ = args["address"].(string)
	reg.Version, _ = args["version"].(string)
	if src, ok := args["source"].(string); ok && src != "" {
		reg.Source = src
	}
	reg.Labels = map[string]string{}
	if m, ok := args["labels"].(map[string]any); ok {
		for k, v := range m {
			reg.Labels[k] = fmt.Sprint(v)
		}
	}
	switch v := args["ttl"].(type) {
	case string:
		if dd, err := time.ParseDuration(v); err == nil {
			reg.TTL = registry.Duration(dd)
		}
	case float64:
		reg.TTL = registry.Duration(time.Duration(v * float64(time.Second)))
	}
	n, err := d.reg.Register(ctx, reg)
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": n.ID, "state": n.State}, nil
}

func (d *discoverySubsystem) maintHeartbeat(ctx context.Context, args map[string]any) (map[string]any, error) {
	id, _ := args["id"].(string)
	hb := registry.Heartbeat{}
	if m, ok := args["metrics"].(map[string]any); ok {
		hb.Metrics = map[string]float64{}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				hb.Metrics[k] = f
			}
		}
	}
	n, err := d.reg.Heartbeat(ctx, id, hb)
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": n.ID, "state": n.State}, nil
}

func (d *discoverySubsystem) maintDeregister(ctx context.Context, args map[string]any) (map[string]any, error) {
	id, _ := args["id"].(string)
	if err := d.reg.Deregister(ctx, id); err != nil {
		return nil, err
	}
	return map[string]any{"id": id}, nil
}

var (
	_ Subsystem         = (*discoverySubsystem)(nil)
	_ StatusContributor = (*discoverySubsystem)(nil)
)
