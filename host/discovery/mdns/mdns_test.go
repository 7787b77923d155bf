package mdns

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestCacheHonoursTTL checks expiry and goodbye packets without a network.
func TestCacheHonoursTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewCache()
	c.now = func() time.Time { return now }
	ptr := func(ttl uint32) dns.RR {
		return &dns.PTR{Hdr: dns.RR_Header{Name: "_http._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl}, Ptr: "web._http._tcp.local."}
	}
	steps := []struct {
		name    string
		add     dns.RR
		advance time.Duration
		want    int
	}{
		{"record is cached", ptr(120), 0, 1},
		{"still there before its ttl", nil, 119 * time.Second, 1},
		{"gone after its ttl", nil, 2 * time.Second, 0},
		{"refreshed", ptr(120), 0, 1},
		{"goodbye removes it", ptr(0), 0, 0},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.add != nil {
				c.Add(s.add)
			}
			now = now.Add(s.advance)
			if got := len(c.lookup("_http._tcp.local.", dns.TypePTR)); got != s.want {
				t.Fatalf("records = %d, want %d", got, s.want)
			}
		})
	}
}

// TestBrowseLive browses the link when HEADY_MDNS_LIVE=1 (run inside a
// network namespace with a responder; see host/e2e/discovery_test.go).
func TestBrowseLive(t *testing.T) {
	if os.Getenv("HEADY_MDNS_LIVE") != "1" {
		t.Skip("set HEADY_MDNS_LIVE=1 inside a namespace with an mDNS responder")
	}
	r, err := Announce(context.Background(), Announcement{Instance: "heady-live", Port: 3000, TXT: map[string]string{"version": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	insts, err := NewBrowser().Browse(context.Background(), BrowseOptions{Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range insts {
		t.Logf("%+v", in)
	}
	if len(insts) == 0 {
		t.Fatal("nothing found")
	}
}

// BenchmarkBrowse20 measures a fresh browse (empty cache, every type
// enumerated) until 20 published services are resolved. It needs
// HEADY_MDNS_LIVE=1 and a responder publishing 20 services on the link
// (scripts/bench-discovery.sh sets that up in a network namespace).
func BenchmarkBrowse20(b *testing.B) {
	if os.Getenv("HEADY_MDNS_LIVE") != "1" {
		b.Skip("set HEADY_MDNS_LIVE=1 inside a namespace with 20 published services")
	}
	for b.Loop() {
		insts, err := NewBrowser().Browse(context.Background(), BrowseOptions{Timeout: 10 * time.Second, Want: 20})
		if err != nil {
			b.Fatal(err)
		}
		if n := countResolved(insts); n < 20 {
			b.Fatalf("resolved %d of 20", n)
		}
	}
}
