// Package httpscan finds HTTP services on configured hosts and ports and
// fingerprints them: status, Server and X-Powered-By headers, page title,
// health endpoints, Prometheus metrics, OpenAPI documents and MCP
// endpoints.
//
// A scan never leaves its targets: every address is expanded from the
// configured hosts and CIDRs before any connection is made (CIDRs are
// bounded, see MaxHosts), redirects are not followed, and every probe
// reuses the host:port that answered.
package httpscan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heady-dev/heady/host/discovery/mcpscan"
	"github.com/heady-dev/heady/sdk"
)

// DefaultPorts are the guide's common development ports.
var DefaultPorts = []int{3000, 3001, 8000, 8080, 5000}

// Limits on the expansion of targets.
const (
	// MaxHosts bounds one CIDR target (a /22 in IPv4).
	MaxHosts = 1024
	// MaxAddresses bounds a whole scan (hosts × ports).
	MaxAddresses = 65536
)

// Options tune a scan; zero values take the defaults.
type Options struct {
	// Workers is the size of the worker pool (default 64).
	Workers int
	// DialTimeout bounds a TCP connect (default 500ms).
	DialTimeout time.Duration
	// ProbeTimeout bounds each HTTP request (default 2s).
	ProbeTimeout time.Duration
	// SkipMCP disables the MCP probe.
	SkipMCP bool
}

// OptionsFrom reads options from a discovery block's config map (keys
// workers, dial_timeout, probe_timeout as duration strings, mcp bool).
func OptionsFrom(cfg map[string]any) Options {
	var o Options
	if v, ok := cfg["workers"]; ok {
		switch n := v.(type) {
		case int:
			o.Workers = n
		case int64:
			o.Workers = int(n)
		case float64:
			o.Workers = int(n)
		}
	}
	if s, ok := cfg["dial_timeout"].(string); ok {
		o.DialTimeout, _ = time.ParseDuration(s)
	}
	if s, ok := cfg["probe_timeout"].(string); ok {
		o.ProbeTimeout, _ = time.ParseDuration(s)
	}
	if b, ok := cfg["mcp"].(bool); ok {
		o.SkipMCP = !b
	}
	return o
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 64
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 500 * time.Millisecond
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 2 * time.Second
	}
}

// Expand turns targets (hosts, IPs, CIDRs) into the host list to scan. A
// CIDR larger than MaxHosts addresses is an error; network and broadcast
// addresses of IPv4 networks wider than /31 are left out.
func Expand(targets []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(h string) {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	for _, t := range targets {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !strings.Contains(t, "/") {
			add(t)
			continue
		}
		p, err := netip.ParsePrefix(t)
		if err != nil {
			return nil, fmt.Errorf("target %q: not a CIDR: %w", t, err)
		}
		p = p.Masked()
		hostBits := p.Addr().BitLen() - p.Bits()
		if hostBits > 10 {
			return nil, fmt.Errorf("target %q: %d addresses, more than the %d a scan target may cover (use /22 or narrower in IPv4, /118 in IPv6)", t, uint64(1)<<min(hostBits, 63), MaxHosts)
		}
		n := 1 << hostBits
		a := p.Addr()
		for i := 0; i < n; i++ {
			skip := p.Addr().Is4() && hostBits > 1 && (i == 0 || i == n-1)
			if !skip {
				add(a.String())
			}
			a = a.Next()
		}
	}
	return out, nil
}

// Scanner is the HTTP discovery protocol.
type Scanner struct {
	Options Options
}

// Scan scans every host of s.Targets (default 127.0.0.1) on every port of
// s.Ports (default DefaultPorts) and returns what answered. Closed ports
// produce nothing; an open port that does not speak HTTP is reported as a
// tcp service.
func (sc *Scanner) Scan(ctx context.Context, s sdk.Scope) ([]sdk.Service, error) {
	o := sc.Options
	if s.Config != nil {
		co := OptionsFrom(s.Config)
		if co.Workers > 0 {
			o.Workers = co.Workers
		}
		if co.DialTimeout > 0 {
			o.DialTimeout = co.DialTimeout
		}
		if co.ProbeTimeout > 0 {
			o.ProbeTimeout = co.ProbeTimeout
		}
		o.SkipMCP = o.SkipMCP || co.SkipMCP
	}
	o.defaults()
	targets := s.Targets
	if len(targets) == 0 {
		targets = []string{"127.0.0.1"}
	}
	ports := s.Ports
	if len(ports) == 0 {
		ports = DefaultPorts
	}
	for _, p := range ports {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("http scan: port %d out of range", p)
		}
	}
	hosts, err := Expand(targets)
	if err != nil {
		return nil, fmt.Errorf("http scan: %w", err)
	}
	if len(hosts)*len(ports) > MaxAddresses {
		return nil, fmt.Errorf("http scan: %d addresses, more than %d", len(hosts)*len(ports), MaxAddresses)
	}
	jobs := make(chan string)
	var mu sync.Mutex
	var out []sdk.Service
	var wg sync.WaitGroup
	workers := min(o.Workers, len(hosts)*len(ports))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for addr := range jobs {
				if svc, ok := probe(ctx, addr, o); ok {
					mu.Lock()
					out = append(out, svc)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for _, h := range hosts {
		for _, p := range ports {
			select {
			case jobs <- net.JoinHostPort(h, strconv.Itoa(p)):
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("http scan: %w", err)
	}
	sortServices(out)
	return out, nil
}

func sortServices(s []sdk.Service) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].ID < s[j-1].ID; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// ServiceID is the id of the service at host:port.
func ServiceID(kind, addr string) string {
	r := strings.NewReplacer(":", "-", "[", "", "]", "")
	return kind + "-" + r.Replace(addr)
}

var titleRe = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// probe checks one host:port.
func probe(ctx context.Context, addr string, o Options) (sdk.Service, bool) {
	d := net.Dialer{Timeout: o.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return sdk.Service{}, false
	}
	_ = conn.Close()
	host, portS, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portS)
	client := &http.Client{
		Timeout: o.ProbeTimeout,
		// Never leave the target: a redirect is recorded, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			DisableKeepAlives: false, MaxIdleConnsPerHost: 2, ResponseHeaderTimeout: o.ProbeTimeout,
		},
	}
	defer client.CloseIdleConnections()
	base := "http://" + addr
	res, body, err := get(ctx, client, base+"/", 64<<10)
	if err != nil {
		return sdk.Service{ID: ServiceID("tcp", addr), Name: "tcp " + addr, Kind: "tcp", Address: host, Port: port,
			Protocol: "tcp", Metadata: map[string]any{"tcp_address": addr}, Health: "unknown"}, true
	}
	md := map[string]any{"status": res.StatusCode}
	labels := map[string]string{}
	if v := res.Header.Get("Server"); v != "" {
		md["server"] = v
		labels["server"] = strings.ToLower(strings.SplitN(strings.SplitN(v, "/", 2)[0], " ", 2)[0])
	}
	if v := res.Header.Get("X-Powered-By"); v != "" {
		md["powered_by"] = v
	}
	if ct := res.Header.Get("Content-Type"); ct != "" {
		md["content_type"] = ct
	}
	if loc := res.Header.Get("Location"); loc != "" {
		md["redirect"] = loc
	}
	if m := titleRe.FindSubmatch(body); m != nil {
		md["title"] = strings.TrimSpace(html.UnescapeString(string(m[1])))
	}
	svc := sdk.Service{ID: ServiceID("http", addr), Kind: "http", Address: host, Port: port, Protocol: "http",
		URL: base + "/", Labels: labels, Metadata: md, Health: "unknown"}
	for _, p := range []string{"/health", "/healthz", "/readyz"} {
		if r, _, err := get(ctx, client, base+p, 4<<10); err == nil && r.StatusCode >= 200 && r.StatusCode < 300 {
			md["health_url"] = base + p
			svc.Health = "healthy"
			break
		}
	}
	if r, b, err := get(ctx, client, base+"/metrics", 16<<10); err == nil && r.StatusCode == 200 && looksPrometheus(r, b) {
		md["metrics_url"] = base + "/metrics"
		labels["prometheus"] = "true"
	}
	for _, p := range []string{"/openapi.json", "/swagger.json", "/v3/api-docs", "/api/openapi.json", "/docs/openapi.json"} {
		if r, b, err := get(ctx, client, base+p, 1<<20); err == nil && r.StatusCode == 200 {
			if v, title := openAPIVersion(b); v != "" {
				md["openapi_url"] = base + p
				md["openapi_version"] = v
				if title != "" {
					md["api_title"] = title
				}
				labels["openapi"] = "true"
				break
			}
		}
	}
	if !o.SkipMCP {
		pctx, cancel := context.WithTimeout(ctx, 2*o.ProbeTimeout)
		for _, p := range []string{"/mcp", "/sse"} {
			info, err := mcpscan.Probe(pctx, client, base+p, mcpscan.Options{Timeout: o.ProbeTimeout})
			if err == nil {
				md["mcp_url"] = base + p
				md["mcp"] = info.Map()
				labels["mcp"] = "true"
				break
			}
		}
		cancel()
	}
	svc.Name = nameOf(svc, md, addr)
	return svc, true
}

func nameOf(s sdk.Service, md map[string]any, addr string) string {
	if t, ok := md["api_title"].(string); ok && t != "" {
		return t
	}
	if t, ok := md["title"].(string); ok && t != "" && len(t) <= 80 {
		return t
	}
	if sv, ok := md["server"].(string); ok {
		return sv + " " + addr
	}
	return "http " + addr
}

func get(ctx context.Context, c *http.Client, url string, limit int64) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("User-Agent", "heady-discovery/1")
	res, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, limit))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return res, b, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	return res, b, nil
}

func looksPrometheus(r *http.Response, b []byte) bool {
	ct := r.Header.Get("Content-Type")
	if strings.Contains(ct, "openmetrics") || (strings.HasPrefix(ct, "text/plain") && strings.Contains(ct, "version=0.0.4")) {
		return true
	}
	return bytes.Contains(b, []byte("# TYPE ")) || bytes.Contains(b, []byte("# HELP "))
}

func openAPIVersion(b []byte) (version, title string) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Swagger string `json:"swagger"`
		Info    struct {
			Title string `json:"title"`
		} `json:"info"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return "", ""
	}
	if doc.OpenAPI != "" {
		return doc.OpenAPI, doc.Info.Title
	}
	return doc.Swagger, doc.Info.Title
}
