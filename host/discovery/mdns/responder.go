package mdns

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Announcement is a service the Responder publishes.
type Announcement struct {
	// Instance is the instance label, e.g. "heady-web1".
	Instance string
	// Type is the service type, default "_heady._tcp".
	Type string
	// Host is the target host name without ".local" (default
	// Instance); it must not collide with the machine's own mDNS name.
	Host string
	Port int
	TXT  map[string]string
	// IPs are the addresses announced for Host; default: the IPv4
	// addresses of the joined interfaces.
	IPs []net.IP
	// TTL of the records (default 120s).
	TTL time.Duration
}

// Responder announces one service and answers queries for it.
type Responder struct {
	a    Announcement
	c    *conn
	wg   sync.WaitGroup
	once sync.Once
}

// Announce starts a responder: it binds the mDNS port, announces the
// service twice (RFC 6762 §8.3) and answers queries until Close, which
// sends a goodbye.
func Announce(ctx context.Context, a Announcement) (*Responder, error) {
	if a.Type == "" {
		a.Type = "_heady._tcp"
	}
	if a.Host == "" {
		a.Host = a.Instance
	}
	if a.TTL <= 0 {
		a.TTL = 120 * time.Second
	}
	a.Instance = strings.ReplaceAll(a.Instance, ".", "-")
	c, err := listen(ctx)
	if err != nil {
		return nil, err
	}
	if len(a.IPs) == 0 {
		for _, ifi := range c.ifs {
			addrs, _ := ifi.Addrs()
			for _, ad := range addrs {
				if ipn, ok := ad.(*net.IPNet); ok && ipn.IP.To4() != nil {
					a.IPs = append(a.IPs, ipn.IP.To4())
				}
			}
		}
	}
	r := &Responder{a: a, c: c}
	r.wg.Add(2)
	go r.serve()
	go func() {
		defer r.wg.Done()
		for i := 0; i < 2; i++ {
			if err := c.send(r.announcement(uint32(a.TTL.Seconds()))); err != nil {
				return
			}
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
		}
	}()
	return r, nil
}

func (r *Responder) typeName() string     { return fqdnType(r.a.Type) }
func (r *Responder) instanceName() string { return escapeLabel(r.a.Instance) + "." + r.typeName() }
func (r *Responder) hostName() string     { return escapeLabel(r.a.Host) + ".local." }

// InstanceName is the announced full instance name.
func (r *Responder) InstanceName() string { return r.instanceName() }

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, ".", `\.`, " ", `\ `).Replace(s)
}

func hdr(name string, t uint16, ttl uint32, flush bool) dns.RR_Header {
	cls := uint16(dns.ClassINET)
	if flush {
		cls |= 1 << 15
	}
	return dns.RR_Header{Name: name, Rrtype: t, Class: cls, Ttl: ttl}
}

func (r *Responder) records(ttl uint32) (ptr dns.RR, srv dns.RR, txt dns.RR, addrs []dns.RR) {
	ptr = &dns.PTR{Hdr: hdr(r.typeName(), dns.TypePTR, ttl, false), Ptr: r.instanceName()}
	srv = &dns.SRV{Hdr: hdr(r.instanceName(), dns.TypeSRV, ttl, true), Port: uint16(r.a.Port), Target: r.hostName()}
	var kv []string
	for k, v := range r.a.TXT {
		kv = append(kv, k+"="+v)
	}
	if len(kv) == 0 {
		kv = []string{""}
	}
	sortStrings(kv)
	txt = &dns.TXT{Hdr: hdr(r.instanceName(), dns.TypeTXT, ttl, true), Txt: kv}
	for _, ip := range r.a.IPs {
		if ip4 := ip.To4(); ip4 != nil {
			addrs = append(addrs, &dns.A{Hdr: hdr(r.hostName(), dns.TypeA, ttl, true), A: ip4})
		} else {
			addrs = append(addrs, &dns.AAAA{Hdr: hdr(r.hostName(), dns.TypeAAAA, ttl, true), AAAA: ip})
		}
	}
	return
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (r *Responder) announcement(ttl uint32) *dns.Msg {
	ptr, srv, txt, addrs := r.records(ttl)
	m := new(dns.Msg)
	m.Response, m.Authoritative = true, true
	m.Answer = append([]dns.RR{ptr, srv, txt}, addrs...)
	if ttl > 0 {
		m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(ServicesOfType, dns.TypePTR, ttl, false), Ptr: r.typeName()})
	}
	return m
}

func (r *Responder) serve() {
	defer r.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := r.c.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var q dns.Msg
		if q.Unpack(buf[:n]) != nil || q.Response || q.Opcode != dns.OpcodeQuery {
			continue
		}
		resp := r.answer(&q)
		if resp == nil {
			continue
		}
		if ua, ok := from.(*net.UDPAddr); ok && ua.Port != Port {
			// Legacy unicast query (RFC 6762 §6.7): answer the sender
			// directly, echoing id and questions, with short TTLs.
			resp.Id, resp.Question = q.Id, q.Question
			for _, rr := range append(resp.Answer, resp.Extra...) {
				rr.Header().Class &^= 1 << 15
				rr.Header().Ttl = min(rr.Header().Ttl, 10)
			}
			if b, err := resp.Pack(); err == nil {
				_, _ = r.c.pc.WriteTo(b, ua)
			}
			continue
		}
		_ = r.c.send(resp)
	}
}

func (r *Responder) answer(q *dns.Msg) *dns.Msg {
	ttl := uint32(r.a.TTL.Seconds())
	ptr, srv, txt, addrs := r.records(ttl)
	m := new(dns.Msg)
	m.Response, m.Authoritative = true, true
	eq := func(a, b string) bool { return strings.EqualFold(a, b) }
	for _, qq := range q.Question {
		any := qq.Qtype == dns.TypeANY
		switch {
		case eq(qq.Name, ServicesOfType) && (qq.Qtype == dns.TypePTR || any):
			m.Answer = append(m.Answer, &dns.PTR{Hdr: hdr(ServicesOfType, dns.TypePTR, ttl, false), Ptr: r.typeName()})
		case eq(qq.Name, r.typeName()) && (qq.Qtype == dns.TypePTR || any):
			m.Answer = append(m.Answer, ptr)
			m.Extra = append(append(m.Extra, srv, txt), addrs...)
		case eq(qq.Name, r.instanceName()):
			if qq.Qtype == dns.TypeSRV || any {
				m.Answer = append(m.Answer, srv)
				m.Extra = append(m.Extra, addrs...)
			}
			if qq.Qtype == dns.TypeTXT || any {
				m.Answer = append(m.Answer, txt)
			}
		case eq(qq.Name, r.hostName()) && (qq.Qtype == dns.TypeA || qq.Qtype == dns.TypeAAAA || any):
			for _, a := range addrs {
				if a.Header().Rrtype == qq.Qtype || any {
					m.Answer = append(m.Answer, a)
				}
			}
		}
	}
	if len(m.Answer) == 0 {
		return nil
	}
	return m
}

// Close sends a goodbye (TTL 0) and stops answering.
func (r *Responder) Close() error {
	var err error
	r.once.Do(func() {
		m := r.announcement(0)
		_ = r.c.send(m)
		err = r.c.close()
		r.wg.Wait()
	})
	if err != nil {
		return fmt.Errorf("mdns: close responder: %w", err)
	}
	return nil
}
