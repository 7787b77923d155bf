package mdns

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// ingest is what Browse does with one received packet, then what it does
// with the cache: enumerate the types and assemble their instances.
func ingest(b *Browser, pkt []byte) ([]Instance, bool) {
	var m dns.Msg
	if m.Unpack(pkt) != nil || !m.Response {
		return nil, false
	}
	b.Cache.Add(m.Answer...)
	b.Cache.Add(m.Ns...)
	b.Cache.Add(m.Extra...)
	seen := map[string]bool{}
	var types []string
	for _, t := range b.enumerated() {
		if !seen[strings.ToLower(t)] {
			seen[strings.ToLower(t)] = true
			types = append(types, t)
		}
	}
	for _, rr := range append(append(m.Answer, m.Ns...), m.Extra...) {
		if n := strings.ToLower(rr.Header().Name); rr.Header().Rrtype == dns.TypePTR && !seen[n] {
			seen[n] = true
			types = append(types, rr.Header().Name)
		}
	}
	insts, _ := b.assemble(types)
	for _, in := range insts {
		_ = in.Service()
	}
	return insts, true
}

func packed(t testing.TB, m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedResponse is a complete answer for one _http._tcp instance.
func seedResponse(t testing.TB) []byte {
	r := &Responder{a: Announcement{Instance: "web 1", Type: "_http._tcp", Host: "web1", Port: 8080,
		TXT: map[string]string{"path": "/api", "version": "2"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1).To4()}, TTL: 120 * time.Second}}
	return packed(t, r.announcement(120))
}

// noRdataPTR is a response whose PTR record has no rdata (rdlength 0):
// miekg/dns unpacks it as a bare *dns.RR_Header, not a *dns.PTR.
func noRdataPTR(t testing.TB) []byte {
	m := new(dns.Msg)
	m.Response = true
	m.Answer = []dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: "_http._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 120}, Ptr: "x._http._tcp.local."}}
	return truncateLastRdata(packed(t, m))
}

// truncateLastRdata drops the rdata of the last record in b and sets its
// rdlength to 0.
func truncateLastRdata(b []byte) []byte {
	var m dns.Msg
	if err := m.Unpack(b); err != nil {
		return b
	}
	// Walk: find the rdlength field by re-packing the header-only record.
	rr := m.Answer[len(m.Answer)-1]
	rdlen := int(rr.Header().Rdlength)
	cut := len(b) - rdlen
	out := append([]byte(nil), b[:cut]...)
	out[cut-2], out[cut-1] = 0, 0
	return out
}

// FuzzBrowseResponse feeds arbitrary packets, as they arrive from the
// link, through the browser's cache and instance assembly: nothing a peer
// sends may crash the host.
func FuzzBrowseResponse(f *testing.F) {
	f.Add(seedResponse(f))
	f.Add(noRdataPTR(f))
	enum := new(dns.Msg)
	enum.Response = true
	enum.Answer = []dns.RR{&dns.PTR{Hdr: dns.RR_Header{Name: ServicesOfType, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 60}, Ptr: "_http._tcp.local."}}
	f.Add(packed(f, enum))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		b := NewBrowser()
		insts, ok := ingest(b, pkt)
		if !ok {
			return
		}
		for _, in := range insts {
			if in.Name == "" {
				t.Fatalf("instance without a name: %+v", in)
			}
		}
		// The same packet twice changes nothing (the cache is keyed).
		again, _ := ingest(b, pkt)
		if len(again) != len(insts) {
			t.Fatalf("%d instances, then %d from the same packet", len(insts), len(again))
		}
	})
}

// FuzzResponderQuery feeds arbitrary queries to the responder's answer:
// it must not crash and what it answers must pack.
func FuzzResponderQuery(f *testing.F) {
	r := &Responder{a: Announcement{Instance: "heady-node", Type: "_heady._tcp", Host: "heady-node", Port: 3000,
		TXT: map[string]string{"api": "/api/v1/automation"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1).To4()}, TTL: 120 * time.Second}}
	for _, q := range []dns.Question{
		{Name: ServicesOfType, Qtype: dns.TypePTR, Qclass: dns.ClassINET},
		{Name: "_heady._tcp.local.", Qtype: dns.TypePTR, Qclass: dns.ClassINET},
		{Name: "heady-node._heady._tcp.local.", Qtype: dns.TypeANY, Qclass: dns.ClassINET},
		{Name: "heady-node.local.", Qtype: dns.TypeA, Qclass: dns.ClassINET},
	} {
		m := new(dns.Msg)
		m.Question = []dns.Question{q}
		f.Add(packed(f, m))
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var q dns.Msg
		if q.Unpack(pkt) != nil || q.Response {
			return
		}
		if m := r.answer(&q); m != nil {
			if _, err := m.Pack(); err != nil {
				t.Fatalf("answer does not pack: %v", err)
			}
		}
	})
}

// TestNoRdataRecordsAreIgnored: a PTR (or SRV, TXT, A) record without
// rdata unpacks as a bare header; the browser must skip it, not panic.
func TestNoRdataRecordsAreIgnored(t *testing.T) {
	b := NewBrowser()
	if _, ok := ingest(b, seedResponse(t)); !ok {
		t.Fatal("seed response does not unpack")
	}
	insts, ok := ingest(b, noRdataPTR(t))
	if !ok {
		t.Fatal("the no-rdata packet does not unpack")
	}
	if len(insts) != 1 || insts[0].Instance != "web 1" || insts[0].Port != 8080 {
		t.Fatalf("instances %+v", insts)
	}
}
