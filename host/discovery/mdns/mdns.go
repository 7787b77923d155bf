// Package mdns is DNS-SD over multicast DNS (RFC 6762, RFC 6763) built on
// github.com/miekg/dns: a browser that enumerates service types, resolves
// PTR, SRV, TXT, A and AAAA records and keeps them for their TTL, and a
// responder that announces one service (Heady's own _heady._tcp) and
// answers queries for it.
//
// Both bind UDP port 5353 with SO_REUSEADDR and SO_REUSEPORT so they share
// it with a system responder (avahi) and with each other, and join
// 224.0.0.251 on every multicast-capable interface that is up.
package mdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"

	"github.com/heady-dev/heady/sdk"
)

// Port and group of multicast DNS.
const (
	Port           = 5353
	ServicesOfType = "_services._dns-sd._udp.local."
)

var group = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: Port}

// conn is a socket on the mDNS port joined to the group.
type conn struct {
	pc  net.PacketConn
	p4  *ipv4.PacketConn
	ifs []net.Interface
	// src is each joined interface's first IPv4 address: the source of
	// what is sent there (responders ignore a 0.0.0.0 source).
	src []net.IP
}

func listen(ctx context.Context) (*conn, error) {
	lc := net.ListenConfig{Control: reuseControl}
	pc, err := lc.ListenPacket(ctx, "udp4", fmt.Sprintf("0.0.0.0:%d", Port))
	if err != nil {
		return nil, fmt.Errorf("mdns: listen on udp port %d: %w", Port, err)
	}
	p4 := ipv4.NewPacketConn(pc)
	ifs, _ := net.Interfaces()
	c := &conn{pc: pc, p4: p4}
	var errs []error
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 {
			continue
		}
		if err := p4.JoinGroup(&ifi, &net.UDPAddr{IP: group.IP}); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ifi.Name, err))
			continue
		}
		var src net.IP
		if addrs, err := ifi.Addrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
					src = ipn.IP.To4()
					break
				}
			}
		}
		if src == nil {
			continue
		}
		c.ifs = append(c.ifs, ifi)
		c.src = append(c.src, src)
	}
	if len(c.ifs) == 0 {
		pc.Close()
		return nil, fmt.Errorf("mdns: no up, multicast-capable interface to join %s on: %w", group.IP, errors.Join(errs...))
	}
	_ = p4.SetMulticastLoopback(true)
	_ = p4.SetMulticastTTL(255)
	return c, nil
}

// send writes msg to the group on every joined interface.
func (c *conn) send(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	var errs []error
	sent := false
	for i := range c.ifs {
		cm := &ipv4.ControlMessage{IfIndex: c.ifs[i].Index, Src: c.src[i]}
		if _, err := c.p4.WriteTo(b, cm, group); err != nil {
			errs = append(errs, err)
			continue
		}
		sent = true
	}
	if !sent {
		return fmt.Errorf("mdns: send: %w", errors.Join(errs...))
	}
	return nil
}

func (c *conn) close() error { return c.pc.Close() }

// Instance is one resolved DNS-SD service instance.
type Instance struct {
	// Name is the full instance name ("web._http._tcp.local.").
	Name string `json:"name"`
	// Instance is the instance label ("web").
	Instance string `json:"instance"`
	// Type is the service type ("_http._tcp").
	Type   string            `json:"type"`
	Domain string            `json:"domain"`
	Host   string            `json:"host,omitempty"`
	Port   int               `json:"port,omitempty"`
	IPv4   []string          `json:"ipv4,omitempty"`
	IPv6   []string          `json:"ipv6,omitempty"`
	TXT    map[string]string `json:"txt,omitempty"`
	// TTL is the remaining lifetime of the instance's PTR record.
	TTL time.Duration `json:"ttl"`
}

// Resolved reports whether SRV, TXT and an address are known.
func (i Instance) Resolved() bool {
	return i.Host != "" && i.TXT != nil && len(i.IPv4)+len(i.IPv6) > 0
}

type cacheKey struct {
	name  string
	rtype uint16
	data  string
}

type cacheEntry struct {
	rr      dns.RR
	expires time.Time
}

// Cache holds received records until their TTL ends. A record received
// with TTL 0 (a goodbye) is removed. It is safe for concurrent use; a
// Browser keeps one across browses.
type Cache struct {
	mu  sync.Mutex
	m   map[cacheKey]cacheEntry
	now func() time.Time
}

// NewCache creates an empty cache.
func NewCache() *Cache { return &Cache{m: map[cacheKey]cacheEntry{}, now: time.Now} }

func keyOf(rr dns.RR) cacheKey {
	h := rr.Header()
	s := rr.String()
	// The rdata is what follows the header in the presentation format.
	data := strings.TrimPrefix(s, h.String())
	return cacheKey{name: strings.ToLower(h.Name), rtype: h.Rrtype, data: data}
}

// Add stores (or, with TTL 0, removes) records.
func (c *Cache) Add(rrs ...dns.RR) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, rr := range rrs {
		h := rr.Header()
		h.Class &^= 1 << 15 // cache-flush bit
		k := keyOf(rr)
		if h.Ttl == 0 {
			delete(c.m, k)
			continue
		}
		c.m[k] = cacheEntry{rr: rr, expires: now.Add(time.Duration(h.Ttl) * time.Second)}
	}
}

// lookup returns live records of a name and type with their remaining TTL.
func (c *Cache) lookup(name string, rtype uint16) []cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	name = strings.ToLower(name)
	var out []cacheEntry
	for k, e := range c.m {
		if !e.expires.After(now) {
			delete(c.m, k)
			continue
		}
		if k.name == name && k.rtype == rtype {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rr.String() < out[j].rr.String() })
	return out
}

// BrowseOptions tune a browse.
type BrowseOptions struct {
	// Types are service types to resolve ("_http._tcp"); empty enumerates
	// every type announced on the link.
	Types []string
	// Timeout bounds the browse (default 3s).
	Timeout time.Duration
	// Quiet ends the browse early once every instance is resolved and no
	// new record arrived for this long (default 300ms).
	Quiet time.Duration
	// Want, when positive, ends the browse as soon as this many instances
	// are fully resolved.
	Want int
}

// Browser browses DNS-SD services; its cache honours record TTLs across
// browses.
type Browser struct {
	Cache *Cache
}

// NewBrowser creates a browser with an empty cache.
func NewBrowser() *Browser { return &Browser{Cache: NewCache()} }

func fqdnType(t string) string {
	t = strings.TrimSuffix(t, ".")
	if !strings.HasSuffix(t, ".local") {
		t += ".local"
	}
	return t + "."
}

// Browse queries the link and returns every resolved instance.
func (b *Browser) Browse(ctx context.Context, o BrowseOptions) ([]Instance, error) {
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	if o.Quiet <= 0 {
		o.Quiet = 300 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	c, err := listen(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	var mu sync.Mutex
	last := time.Now()
	go func() {
		<-ctx.Done()
		_ = c.pc.SetReadDeadline(time.Now())
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, _, err := c.pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dns.Msg
			if m.Unpack(buf[:n]) != nil || !m.Response {
				continue
			}
			b.Cache.Add(m.Answer...)
			b.Cache.Add(m.Ns...)
			b.Cache.Add(m.Extra...)
			mu.Lock()
			last = time.Now()
			mu.Unlock()
		}
	}()
	types := make([]string, 0, len(o.Types))
	for _, t := range o.Types {
		types = append(types, fqdnType(t))
	}
	enumerate := len(types) == 0
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	round := 0
	for {
		q := new(dns.Msg)
		q.Id = 0
		if enumerate {
			q.Question = append(q.Question, dns.Question{Name: ServicesOfType, Qtype: dns.TypePTR, Qclass: dns.ClassINET})
		}
		ts := types
		if enumerate {
			ts = b.enumerated()
		}
		insts, missing := b.assemble(ts)
		for _, t := range ts {
			q.Question = append(q.Question, dns.Question{Name: t, Qtype: dns.TypePTR, Qclass: dns.ClassINET})
		}
		q.Question = append(q.Question, missing...)
		if round%3 == 0 || len(missing) > 0 {
			// Re-ask every few rounds; ask at once for what is missing.
			for len(q.Question) > 0 {
				part := *q
				part.Question = q.Question[:min(len(q.Question), 30)]
				q.Question = q.Question[len(part.Question):]
				if err := c.send(&part); err != nil {
					return nil, err
				}
			}
		}
		round++
		mu.Lock()
		quiet := time.Since(last) >= o.Quiet
		mu.Unlock()
		if o.Want > 0 && countResolved(insts) >= o.Want {
			return insts, nil
		}
		complete := len(missing) == 0 && len(insts) > 0 && (!enumerate || len(ts) > 0)
		if complete && quiet && time.Since(start) >= 2*o.Quiet {
			return insts, nil
		}
		select {
		case <-ctx.Done():
			c.close()
			<-done
			insts, _ := b.assemble(ts)
			return insts, nil
		case <-tick.C:
		}
	}
}

func countResolved(insts []Instance) int {
	n := 0
	for _, in := range insts {
		if in.Resolved() {
			n++
		}
	}
	return n
}

// enumerated lists service types seen under _services._dns-sd._udp.
func (b *Browser) enumerated() []string {
	var out []string
	for _, e := range b.Cache.lookup(ServicesOfType, dns.TypePTR) {
		if p, ok := e.rr.(*dns.PTR); ok && p.Ptr != "" && p.Ptr != "." {
			out = append(out, p.Ptr)
		}
	}
	return out
}

// assemble builds instances of the given types from the cache and lists
// the questions still needed to resolve them.
func (b *Browser) assemble(types []string) ([]Instance, []dns.Question) {
	var out []Instance
	var missing []dns.Question
	ask := func(name string, t uint16) {
		missing = append(missing, dns.Question{Name: name, Qtype: t, Qclass: dns.ClassINET})
	}
	now := b.Cache.now()
	for _, t := range types {
		for _, pe := range b.Cache.lookup(t, dns.TypePTR) {
			// A record without rdata unpacks as a bare header or an
			// empty target: there is no instance to resolve.
			p, ok := pe.rr.(*dns.PTR)
			if !ok || p.Ptr == "" || p.Ptr == "." {
				continue
			}
			name := p.Ptr
			label, rest := splitInstance(name)
			inst := Instance{Name: name, Instance: label, TTL: pe.expires.Sub(now).Round(time.Second)}
			inst.Type, inst.Domain = splitType(rest)
			srv := b.Cache.lookup(name, dns.TypeSRV)
			s, ok := (*dns.SRV)(nil), false
			if len(srv) > 0 {
				s, ok = srv[0].rr.(*dns.SRV)
			}
			if !ok {
				ask(name, dns.TypeSRV)
			} else {
				inst.Host, inst.Port = s.Target, int(s.Port)
				for _, a := range b.Cache.lookup(s.Target, dns.TypeA) {
					if a, ok := a.rr.(*dns.A); ok && a.A != nil {
						inst.IPv4 = append(inst.IPv4, a.A.String())
					}
				}
				for _, a := range b.Cache.lookup(s.Target, dns.TypeAAAA) {
					if a, ok := a.rr.(*dns.AAAA); ok && a.AAAA != nil {
						inst.IPv6 = append(inst.IPv6, a.AAAA.String())
					}
				}
				if len(inst.IPv4)+len(inst.IPv6) == 0 {
					ask(s.Target, dns.TypeA)
				}
			}
			txt := b.Cache.lookup(name, dns.TypeTXT)
			tx, ok := (*dns.TXT)(nil), false
			if len(txt) > 0 {
				tx, ok = txt[0].rr.(*dns.TXT)
			}
			if !ok {
				ask(name, dns.TypeTXT)
			} else {
				inst.TXT = parseTXT(tx.Txt)
			}
			out = append(out, inst)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, missing
}

// splitInstance splits "My\ Web._http._tcp.local." into the unescaped
// label and the rest.
func splitInstance(name string) (string, string) {
	labels := dns.SplitDomainName(name)
	if len(labels) == 0 {
		return name, ""
	}
	first := labels[0]
	label := strings.NewReplacer(`\ `, " ", `\.`, ".", `\\`, `\`).Replace(first)
	return label, strings.Join(labels[1:], ".") + "."
}

func splitType(rest string) (typ, domain string) {
	labels := dns.SplitDomainName(rest)
	if len(labels) >= 2 {
		return labels[0] + "." + labels[1], strings.Join(labels[2:], ".")
	}
	return strings.TrimSuffix(rest, "."), ""
}

func parseTXT(txt []string) map[string]string {
	m := map[string]string{}
	for _, t := range txt {
		if t == "" {
			continue
		}
		k, v, _ := strings.Cut(t, "=")
		m[k] = v
	}
	return m
}

// Scanner is the mdns discovery protocol: Scope.Targets are service types
// to resolve (empty: all), Scope.Config may set timeout (duration string).
type Scanner struct {
	Browser *Browser
	// Exclude drops instances with this full name (the host's own
	// announcement), when set.
	Exclude string
}

// Scan browses the link.
func (s *Scanner) Scan(ctx context.Context, sc sdk.Scope) ([]sdk.Service, error) {
	if s.Browser == nil {
		s.Browser = NewBrowser()
	}
	o := BrowseOptions{Types: sc.Targets}
	if v, ok := sc.Config["timeout"].(string); ok {
		o.Timeout, _ = time.ParseDuration(v)
	}
	insts, err := s.Browser.Browse(ctx, o)
	if err != nil {
		return nil, err
	}
	out := make([]sdk.Service, 0, len(insts))
	for _, in := range insts {
		if strings.EqualFold(in.Name, s.Exclude) {
			continue
		}
		out = append(out, in.Service())
	}
	return out, nil
}

// Service turns an instance into a discovered service.
func (in Instance) Service() sdk.Service {
	addr := ""
	if len(in.IPv4) > 0 {
		addr = in.IPv4[0]
	} else if len(in.IPv6) > 0 {
		addr = in.IPv6[0]
	}
	labels := map[string]string{"mdns_type": in.Type}
	txt := map[string]any{}
	for k, v := range in.TXT {
		txt[k] = v
	}
	md := map[string]any{"instance": in.Instance, "fqdn": in.Name, "host": in.Host, "type": in.Type,
		"domain": in.Domain, "txt": txt, "ttl_seconds": int(in.TTL.Seconds())}
	if len(in.IPv4) > 0 {
		md["ipv4"] = in.IPv4
	}
	if len(in.IPv6) > 0 {
		md["ipv6"] = in.IPv6
	}
	slug := strings.NewReplacer(" ", "-", "/", "-", "\\", "").Replace(strings.ToLower(in.Instance))
	id := "mdns-" + slug + "." + in.Type
	if in.Domain != "" {
		id += "." + in.Domain
	}
	svc := sdk.Service{ID: id,
		Name: in.Instance, Kind: "mdns", Address: addr, Port: in.Port, Protocol: strings.TrimPrefix(strings.Split(in.Type, ".")[0], "_"),
		Labels: labels, Metadata: md, Health: "unknown"}
	if addr != "" && in.Port > 0 {
		md["tcp_address"] = net.JoinHostPort(addr, fmt.Sprint(in.Port))
		if svc.Protocol == "http" {
			path := in.TXT["path"]
			if !strings.HasPrefix(path, "/") {
				path = "/" + path
			}
			svc.URL = "http://" + net.JoinHostPort(addr, fmt.Sprint(in.Port)) + path
		}
	}
	return svc
}
