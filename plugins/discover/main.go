// Command heady-plugin-discover serves Heady's discovery protocols as
// out-of-process discovery components: discover.http (port scan and
// fingerprint), discover.mcp (Model Context Protocol servers over
// Streamable HTTP, HTTP+SSE and stdio), discover.mdns (DNS-SD over
// multicast DNS) and discover.local (the nodes of the host's registry,
// read through the registry API).
//
// The host runs the same protocols in-process for `protocol = "http"`
// and friends; `protocol = "discover.http"` runs them in this plugin
// instead, isolated from the host process.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/heady-dev/heady/host/client"
	"github.com/heady-dev/heady/host/discovery"
	"github.com/heady-dev/heady/host/registry"
	"github.com/heady-dev/heady/sdk"
)

// Version is the plugin's version.
const Version = "1.0.0"

func main() { sdk.Serve(Options()...) }

// Options are the sdk.Serve options of heady-plugin-discover.
func Options() []sdk.Option {
	opts := []sdk.Option{
		sdk.WithName("discover"),
		sdk.WithVersion(Version),
		sdk.WithDescription("Service discovery protocols: HTTP, MCP, mDNS/DNS-SD and the local registry."),
	}
	for _, proto := range []string{discovery.ProtocolHTTP, discovery.ProtocolMCP, discovery.ProtocolMDNS} {
		spec := discovery.Specs[proto]
		if proto == discovery.ProtocolMDNS {
			// Announcing is the host's job; the plugin only browses.
			spec.Inputs = sdk.Schema{Attributes: []sdk.Attribute{spec.Inputs.Attributes[0]}}
		}
		opts = append(opts, sdk.WithDiscovery(spec, func() sdk.Discoverer { return &Protocol{name: proto} }))
	}
	opts = append(opts, sdk.WithDiscovery(sdk.Spec{
		Name:        discovery.ProtocolLocal,
		Description: "The nodes of a Heady registry and the services they declare, read from its API.",
		Config: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "server", Type: sdk.TypeString, Default: "http://127.0.0.1:3000", Description: "Base URL of the Heady host whose registry is read.", Example: `"http://127.0.0.1:3000"`},
			{Name: "token", Type: sdk.TypeString, Description: "Reader token, when anonymous reads are off.", Example: `env("HEADY_TOKEN")`},
		}},
	}, func() sdk.Discoverer { return &Local{} }))
	return opts
}

// Protocol is one of the built-in scanning protocols.
type Protocol struct {
	name string
	sc   discovery.Scanner
}

// Configure builds the scanner.
func (p *Protocol) Configure(context.Context, map[string]any) error {
	sc, err := discovery.NewScanner(p.name, nil)
	if err != nil {
		return fmt.Errorf("plugin discover: configure %s: %w", p.name, err)
	}
	p.sc = sc
	return nil
}

// Scan runs one scan of the scope.
func (p *Protocol) Scan(ctx context.Context, s sdk.Scope) ([]sdk.Service, error) {
	if p.sc == nil {
		return nil, sdk.Permanent(errors.New("plugin discover: scan before configure"))
	}
	svcs, err := p.sc.Scan(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("plugin discover: %s: %w", p.name, err)
	}
	return svcs, nil
}

// Close releases nothing.
func (p *Protocol) Close(context.Context) error { return nil }

// Local reads a host's registry over its API.
type Local struct {
	c *client.Client
}

// Configure reads server and token.
func (l *Local) Configure(_ context.Context, cfg map[string]any) error {
	server, _ := cfg["server"].(string)
	if server == "" {
		server = "http://127.0.0.1:3000"
	}
	token, _ := cfg["token"].(string)
	if !strings.Contains(server, "://") {
		return sdk.Permanent(fmt.Errorf("plugin discover: local: server %q is not a URL", server))
	}
	l.c = client.New(server, token)
	l.c.HTTP.Timeout = 10 * time.Second
	return nil
}

// Scan lists the registry's nodes and their services.
func (l *Local) Scan(ctx context.Context, s sdk.Scope) ([]sdk.Service, error) {
	if l.c == nil {
		return nil, sdk.Permanent(errors.New("plugin discover: scan before configure"))
	}
	var page struct {
		Items []registry.Node `json:"items"`
	}
	if err := l.c.Do(ctx, http.MethodGet, "/registry/nodes", nil, &page); err != nil {
		return nil, fmt.Errorf("plugin discover: local: %w", err)
	}
	return discovery.LocalScanner{Nodes: func() []registry.Node { return page.Items }}.Scan(ctx, s)
}

// Close releases nothing.
func (l *Local) Close(context.Context) error { return nil }

var (
	_ sdk.Discoverer = (*Protocol)(nil)
	_ sdk.Discoverer = (*Local)(nil)
)
