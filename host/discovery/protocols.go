package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/heady-dev/heady/host/discovery/httpscan"
	"github.com/heady-dev/heady/host/discovery/mcpscan"
	"github.com/heady-dev/heady/host/discovery/mdns"
	"github.com/heady-dev/heady/host/registry"
	"github.com/heady-dev/heady/sdk"
)

// Built-in protocol names.
const (
	ProtocolHTTP  = "http"
	ProtocolMCP   = "mcp"
	ProtocolMDNS  = "mdns"
	ProtocolLocal = "local"
)

// Specs declare the built-in protocols as discovery components: their
// Inputs are the attributes a `discovery` block of that protocol accepts
// besides protocol, enabled, interval, targets and ports. The discover
// plugin serves the same specs.
var Specs = map[string]sdk.Spec{
	ProtocolHTTP: {Name: ProtocolHTTP, Description: "Scans hosts and ports (targets: hosts, IPs or CIDRs up to /22; ports default 3000, 3001, 8000, 8080, 5000) and fingerprints HTTP services: status, Server and X-Powered-By, title, health endpoints, Prometheus metrics, OpenAPI documents and MCP endpoints.",
		Inputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "workers", Type: sdk.TypeNumber, Default: 64, Description: "Concurrent probes.", Example: "64"},
			{Name: "dial_timeout", Type: sdk.TypeDuration, Default: "500ms", Description: "TCP connect timeout per address.", Example: `"500ms"`},
			{Name: "probe_timeout", Type: sdk.TypeDuration, Default: "2s", Description: "Timeout of each HTTP request.", Example: `"2s"`},
			{Name: "mcp", Type: sdk.TypeBool, Default: true, Description: "Probe /mcp and /sse for MCP endpoints.", Example: "true"},
		}}},
	ProtocolMCP: {Name: ProtocolMCP, Description: "Model Context Protocol servers: targets are URLs (Streamable HTTP or HTTP+SSE, detected) and command starts a stdio server. Records server info, protocol version, capabilities and tools.",
		Inputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "command", Type: sdk.TypeStringList, Description: "argv of a stdio MCP server to start and query.", Example: `["npx", "-y", "@modelcontextprotocol/server-everything", "stdio"]`},
			{Name: "env", Type: sdk.TypeStringMap, Description: "Extra environment of the stdio server.", Example: `{ LOG_LEVEL = "warn" }`},
			{Name: "transport", Type: sdk.TypeString, Default: "auto", Description: "auto, streamable or sse for URL targets.", Example: `"auto"`},
			{Name: "timeout", Type: sdk.TypeDuration, Default: "10s", Description: "Bound on the exchange with one server.", Example: `"10s"`},
		}}},
	ProtocolMDNS: {Name: ProtocolMDNS, Description: "DNS-SD over multicast DNS: targets are service types (\"_http._tcp\"; empty enumerates all). The host also announces itself as _heady._tcp.",
		Inputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "timeout", Type: sdk.TypeDuration, Default: "3s", Description: "Bound on one browse.", Example: `"3s"`},
			{Name: "announce", Type: sdk.TypeBool, Default: true, Description: "Announce this host as _heady._tcp (host only).", Example: "true"},
		}}},
	ProtocolLocal: {Name: ProtocolLocal, Description: "The nodes of Heady's own registry and the services they declare.",
		Inputs: sdk.Schema{}},
}

// NewScanner returns the scanner of a built-in protocol. nodes serves the
// local protocol (nil: no registry). exclude names an mDNS instance to
// leave out (the host's own announcement).
func NewScanner(protocol string, nodes func() []registry.Node) (Scanner, error) {
	switch protocol {
	case ProtocolHTTP:
		return &httpscan.Scanner{}, nil
	case ProtocolMCP:
		return MCPScanner{}, nil
	case ProtocolMDNS:
		return &mdns.Scanner{Browser: mdns.NewBrowser()}, nil
	case ProtocolLocal:
		if nodes == nil {
			return nil, errors.New("discovery: local protocol needs a registry")
		}
		return LocalScanner{Nodes: nodes}, nil
	}
	return nil, fmt.Errorf("discovery: unknown built-in protocol %q", protocol)
}

// MCPScanner is the mcp protocol.
type MCPScanner struct{}

func durationOf(cfg map[string]any, key string, def time.Duration) time.Duration {
	if s, ok := cfg[key].(string); ok {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			return d
		}
	}
	return def
}

// MCPTargetURL normalises an mcp target: a bare host:port becomes
// http://host:port/mcp.
func MCPTargetURL(t string) (string, error) {
	if !strings.Contains(t, "://") {
		if _, _, err := net.SplitHostPort(t); err != nil {
			return "", fmt.Errorf("mcp target %q: want a URL or host:port", t)
		}
		t = "http://" + t + "/mcp"
	}
	u, err := url.Parse(t)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("mcp target %q: want an http(s) URL", t)
	}
	return u.String(), nil
}

// MCPServiceID is the id of an MCP service at a URL.
func MCPServiceID(rawURL string) string {
	r := strings.NewReplacer("://", "-", ":", "-", "/", "-", "?", "-", "&", "-", "=", "-")
	return "mcp-" + strings.Trim(r.Replace(rawURL), "-")
}

// Scan probes every URL target and the configured stdio command. A target
// that does not answer is left out (its service is lost); the scan fails
// only when nothing could be probed at all and there were errors.
func (MCPScanner) Scan(ctx context.Context, s sdk.Scope) ([]sdk.Service, error) {
	cfg := s.Config
	timeout := durationOf(cfg, "timeout", 10*time.Second)
	transport, _ := cfg["transport"].(string)
	if transport == "auto" {
		transport = ""
	}
	var mu sync.Mutex
	var out []sdk.Service
	var errs []error
	var wg sync.WaitGroup
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, t := range s.Targets {
		u, err := MCPTargetURL(t)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := mcpscan.Probe(ctx, client, u, mcpscan.Options{Timeout: timeout, Transport: transport})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out = append(out, info.Service(MCPServiceID(u)))
		}()
	}
	if cmd := stringList(cfg["command"]); len(cmd) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := map[string]string{}
			if m, ok := cfg["env"].(map[string]any); ok {
				for k, v := range m {
					env[k] = fmt.Sprint(v)
				}
			} else if m, ok := cfg["env"].(map[string]string); ok {
				env = m
			}
			info, err := mcpscan.ProbeCommand(ctx, cmd, env, mcpscan.Options{Timeout: timeout})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			svc := info.Service("mcp-stdio-" + s.Name)
			svc.Protocol = "mcp/stdio"
			svc.Metadata["command"] = strings.Join(cmd, " ")
			out = append(out, svc)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("mcp scan: %w", ctx.Err())
	}
	// Servers that did not answer are simply not found (and so lost);
	// the reasons are worth a debug line, not a failed scan.
	_ = errs
	return out, nil
}

func stringList(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	return nil
}

// LocalScanner is the local protocol: every node of the registry, and the
// services nodes declare, as discovered services.
type LocalScanner struct {
	Nodes func() []registry.Node
}

// Scan lists the registry.
func (l LocalScanner) Scan(_ context.Context, _ sdk.Scope) ([]sdk.Service, error) {
	var out []sdk.Service
	for _, n := range l.Nodes() {
		health := "unknown"
		switch n.State {
		case registry.StateAlive:
			health = "healthy"
		case registry.StateDead:
			health = "unhealthy"
		}
		labels := map[string]string{"node": n.ID}
		for k, v := range n.Labels {
			labels[k] = v
		}
		md := map[string]any{"state": n.State, "version": n.Version, "last_heartbeat": n.LastHeartbeat}
		if _, _, err := net.SplitHostPort(n.Address); err == nil {
			md["tcp_address"] = n.Address // the node's own endpoint (its API)
		}
		out = append(out, sdk.Service{ID: "node-" + n.ID, Name: n.Name, Kind: "node", Address: hostOnly(n.Address),
			Protocol: "heady", Labels: labels, Health: health, Metadata: md})
		for _, s := range n.Services {
			kind := s.Kind
			if kind == "" {
				kind = "local"
			}
			addr := s.Address
			if addr == "" {
				addr = hostOnly(n.Address)
			}
			md := map[string]any{"node": n.ID}
			for k, v := range s.Metadata {
				md[k] = v
			}
			sl := map[string]string{"node": n.ID}
			for k, v := range s.Labels {
				sl[k] = v
			}
			h := s.Health
			if n.State == registry.StateDead {
				h = "unhealthy"
			}
			out = append(out, sdk.Service{ID: "local-" + n.ID + "-" + s.ID, Name: s.Name, Kind: kind, Address: addr,
				Port: s.Port, URL: s.URL, Protocol: kind, Labels: sl, Metadata: md, Health: h})
		}
	}
	return out, nil
}

func hostOnly(addr string) string {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		return u.Hostname()
	}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
