package httpscan

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heady-dev/heady/sdk"
)

func TestExpand(t *testing.T) {
	cases := []struct {
		name    string
		targets []string
		want    int
		first   string
		wantErr string
	}{
		{"single host", []string{"127.0.0.1"}, 1, "127.0.0.1", ""},
		{"duplicates collapse", []string{"127.0.0.1", "127.0.0.1"}, 1, "127.0.0.1", ""},
		{"/24 without network and broadcast", []string{"127.0.0.0/24"}, 254, "127.0.0.1", ""},
		{"/31 keeps both", []string{"10.0.0.0/31"}, 2, "10.0.0.0", ""},
		{"/32", []string{"10.0.0.7/32"}, 1, "10.0.0.7", ""},
		{"/22 is the limit", []string{"10.0.0.0/22"}, 1022, "10.0.0.1", ""},
		{"/21 is refused", []string{"10.0.0.0/21"}, 0, "", "more than the 1024"},
		{"ipv6 /120", []string{"::1/120"}, 256, "::", ""},
		{"bad cidr", []string{"10.0.0.0/33"}, 0, "", "not a CIDR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expand(tc.targets)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want || got[0] != tc.first {
				t.Fatalf("got %d hosts starting %v, want %d starting %s", len(got), got[:min(len(got), 2)], tc.want, tc.first)
			}
		})
	}
}

func serve(t *testing.T, addr string, h http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

func TestScanFingerprints(t *testing.T) {
	api := http.NewServeMux()
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Powered-By", "Express")
		fmt.Fprint(w, "<html><head><title>Orders &amp; Co</title></head></html>")
	})
	api.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	api.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# HELP up Up.\n# TYPE up gauge\nup 1\n")
	})
	api.HandleFunc("/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"openapi":"3.1.0","info":{"title":"Orders API","version":"1"}}`)
	})
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "toy/0.1")
		if r.URL.Path == "/" {
			http.Redirect(w, r, "http://203.0.113.9/elsewhere", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})
	p1 := serve(t, "127.0.0.1:0", api)
	p2 := serve(t, "127.0.0.1:0", plain)
	// A raw TCP service that does not speak HTTP.
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	go func() {
		for {
			c, err := raw.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-toy\r\n"))
			c.Close()
		}
	}()
	p3 := raw.Addr().(*net.TCPAddr).Port
	closed := freePort(t)

	// A listener on another loopback address with the same ports, outside
	// the targets: it must see no connection at all.
	var outside atomic.Int64
	for _, p := range []int{p1, p2, p3, closed} {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", p))
		if err != nil {
			t.Skipf("cannot listen on 127.0.0.2: %v", err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				outside.Add(1)
				c.Close()
			}
		}()
	}

	sc := &Scanner{Options: Options{ProbeTimeout: time.Second}}
	svcs, err := sc.Scan(context.Background(), sdk.Scope{Targets: []string{"127.0.0.1"}, Ports: []int{p1, p2, p3, closed}})
	if err != nil {
		t.Fatal(err)
	}
	by := map[int]sdk.Service{}
	for _, s := range svcs {
		by[s.Port] = s
	}
	if len(svcs) != 3 {
		t.Fatalf("found %d services, want 3: %+v", len(svcs), svcs)
	}
	t.Run("api fingerprint", func(t *testing.T) {
		s := by[p1]
		md := s.Metadata
		if s.Kind != "http" || md["status"] != 200 || md["powered_by"] != "Express" || md["title"] != "Orders & Co" {
			t.Fatalf("metadata: %+v", md)
		}
		if md["health_url"] != fmt.Sprintf("http://127.0.0.1:%d/healthz", p1) || s.Health != "healthy" {
			t.Fatalf("health: %v %s", md["health_url"], s.Health)
		}
		if s.Labels["prometheus"] != "true" || md["openapi_version"] != "3.1.0" || s.Name != "Orders API" {
			t.Fatalf("labels %v, openapi %v, name %q", s.Labels, md["openapi_version"], s.Name)
		}
		if _, isMCP := md["mcp"]; isMCP {
			t.Fatal("not an MCP server")
		}
	})
	t.Run("redirect is recorded, not followed", func(t *testing.T) {
		s := by[p2]
		if s.Metadata["status"] != 302 || s.Metadata["redirect"] != "http://203.0.113.9/elsewhere" || s.Labels["server"] != "toy" {
			t.Fatalf("%+v", s)
		}
		if _, ok := s.Metadata["health_url"]; ok {
			t.Fatal("404 health endpoints must not count")
		}
	})
	t.Run("non-http port is tcp", func(t *testing.T) {
		if s := by[p3]; s.Kind != "tcp" || s.Metadata["tcp_address"] != fmt.Sprintf("127.0.0.1:%d", p3) {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("closed port produces nothing", func(t *testing.T) {
		if _, ok := by[closed]; ok {
			t.Fatal("closed port reported")
		}
	})
	t.Run("nothing outside the targets", func(t *testing.T) {
		if n := outside.Load(); n != 0 {
			t.Fatalf("%d connections to 127.0.0.2", n)
		}
	})
}

func TestScanRejectsLargeCIDR(t *testing.T) {
	_, err := (&Scanner{}).Scan(context.Background(), sdk.Scope{Targets: []string{"127.0.0.0/16"}})
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkScanLoopback254 scans the guide's five ports on every address
// of 127.0.0.1-127.0.0.254 (the measure `make bench` reports).
func BenchmarkScanLoopback254(b *testing.B) {
	sc := &Scanner{Options: Options{Workers: 128}}
	for b.Loop() {
		if _, err := sc.Scan(context.Background(), sdk.Scope{Targets: []string{"127.0.0.0/24"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDialOnly254 is the floor of BenchmarkScanLoopback254: the same
// TCP connects with the same pool, no HTTP.
func BenchmarkDialOnly254(b *testing.B) {
	hosts, _ := Expand([]string{"127.0.0.0/24"})
	for b.Loop() {
		jobs := make(chan string)
		done := make(chan struct{})
		for range 128 {
			go func() {
				d := net.Dialer{Timeout: 500 * time.Millisecond}
				for a := range jobs {
					if c, err := d.Dial("tcp", a); err == nil {
						c.Close()
					}
				}
				done <- struct{}{}
			}()
		}
		for _, h := range hosts {
			for _, p := range DefaultPorts {
				jobs <- net.JoinHostPort(h, fmt.Sprint(p))
			}
		}
		close(jobs)
		for range 128 {
			<-done
		}
	}
}
