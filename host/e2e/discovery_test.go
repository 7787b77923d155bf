package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/heady-dev/heady/host/client"
)

// netnsHTTPClient dials from inside network namespace ns: each dial runs
// on an OS thread moved into the namespace (the thread is discarded
// afterwards), the connection then works from anywhere.
func netnsHTTPClient(ns string) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		type res struct {
			c   net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			// The thread goes back to its own namespace after the dial; if
			// that fails it stays locked and is discarded with the goroutine.
			runtime.LockOSThread()
			orig, err := os.Open("/proc/thread-self/ns/net")
			if err != nil {
				ch <- res{nil, err}
				return
			}
			defer orig.Close()
			f, err := os.Open(filepath.Join("/var/run/netns", ns))
			if err != nil {
				ch <- res{nil, err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- res{nil, fmt.Errorf("setns %s: %w", ns, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- res{c, err}
			if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
		}()
		r := <-ch
		return r.c, r.err
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: dial}}
}

// newNetns creates a network namespace with a multicast-capable loopback,
// or skips the test when the machine cannot.
func newNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	ns := fmt.Sprintf("heady-e2e-%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("this machine cannot create network namespaces: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "set", "lo", "multicast", "on"},
		{"-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo", "src", "127.0.0.1"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	return ns
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// policiesWith copies the default policies and replaces discovery.hcl.
func policiesWith(t *testing.T, discoveryHCL string, extra map[string]string) string {
	t.Helper()
	dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writeFile(t, filepath.Join(dir, "discovery.hcl"), discoveryHCL)
	for name, body := range extra {
		writeFile(t, filepath.Join(dir, name), body)
	}
	return dir
}

type discoveredService struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Kind        string            `json:"kind"`
	Address     string            `json:"address"`
	Port        int               `json:"port"`
	URL         string            `json:"url"`
	Protocol    string            `json:"protocol"`
	Labels      map[string]string `json:"labels"`
	Metadata    map[string]any    `json:"metadata"`
	Health      string            `json:"health"`
	Sources     []string          `json:"sources"`
	HealthURL   string            `json:"health_url"`
	TCPAddress  string            `json:"tcp_address"`
	HealthCheck string            `json:"health_check"`
}

type scanRecord struct {
	ID         string   `json:"id"`
	Source     string   `json:"source"`
	Trigger    string   `json:"trigger"`
	Found      int      `json:"found"`
	Discovered []string `json:"discovered"`
	Lost       []string `json:"lost"`
	Error      string   `json:"error"`
}

func scan(t *testing.T, c *client.Client, source string) []scanRecord {
	t.Helper()
	var out struct {
		Scans []scanRecord `json:"scans"`
	}
	if err := c.Do(bg(), http.MethodPost, "/discovery/scan", map[string]any{"source": source}, &out); err != nil {
		t.Fatalf("scan %s: %v", source, err)
	}
	for _, s := range out.Scans {
		if s.Error != "" {
			t.Fatalf("scan %s failed: %s", source, s.Error)
		}
	}
	return out.Scans
}

func discoveredOf(t *testing.T, c *client.Client, query string) map[string]discoveredService {
	t.Helper()
	var out struct {
		Items []discoveredService `json:"items"`
	}
	if err := c.Do(bg(), http.MethodGet, "/discovery/services"+query, nil, &out); err != nil {
		t.Fatal(err)
	}
	m := map[string]discoveredService{}
	for _, s := range out.Items {
		m[s.ID] = s
	}
	return m
}

func goServer(t *testing.T, h http.Handler) (*http.Server, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().(*net.TCPAddr).Port
}

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	var n int
	fmt.Sscanf(p, "%d", &n)
	return n
}

// startNginx runs Debian's nginx on a loopback port with a /healthz
// location, or returns 0 when nginx is not installed.
func startNginx(t *testing.T) int {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return 0
	}
	port := portOf(freePort(t))
	dir := t.TempDir()
	conf := fmt.Sprintf(`daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d;
    location = / { default_type text/html; return 200 "<html><head><title>Welcome to nginx!</title></head></html>"; }
    location = /healthz { default_type text/plain; return 200 "ok"; }
  }
}
`, dir, port)
	writeFile(t, filepath.Join(dir, "nginx.conf"), conf)
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	eventually(t, 10*time.Second, "nginx listening", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return port
}

func TestDiscoveryHTTP(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprint(w, "# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total 3\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "<title>Go metrics app</title>")
	})
	metricsSrv, pMetrics := goServer(t, mux)
	api := http.NewServeMux()
	api.HandleFunc("/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"openapi":"3.0.3","info":{"title":"Inventory API","version":"2"}}`)
	})
	api.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	_, pAPI := goServer(t, api)
	pNginx := startNginx(t)
	closed := portOf(freePort(t))
	ports := []int{pMetrics, pAPI, closed}
	if pNginx != 0 {
		ports = append(ports, pNginx)
	} else {
		t.Log("nginx not installed: scanning the Go servers only (apt-get install nginx-light)")
	}
	// Listeners on 127.0.0.2 with the same ports: outside the targets.
	var outside atomic.Int64
	for _, p := range ports {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", p))
		if err != nil {
			t.Fatalf("listen on 127.0.0.2: %v", err)
		}
		t.Cleanup(func() { ln.Close() })
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
	portList := strings.Trim(strings.ReplaceAll(fmt.Sprint(ports), " ", ", "), "[]")
	pol := policiesWith(t, fmt.Sprintf(`
discovery "lab" {
  protocol = "http"
  targets  = ["127.0.0.1"]
  ports    = [%s]
  interval = "1h"
}
`, portList), map[string]string{"lost.hcl": `
workflow "on_service_lost" {
  trigger "event" {
    type = "service.lost"
  }
  step "note" {
    action = "heady.clear_caches"
  }
}
`})
	h := startHost(t, hostOpts{policies: pol})
	c := h.admin()
	recs := scan(t, c, "lab")
	if len(recs) != 1 || recs[0].Found != len(ports)-1 {
		t.Fatalf("scan records %+v, want %d found", recs, len(ports)-1)
	}
	svcs := discoveredOf(t, c, "?source=lab")
	id := func(p int) string { return fmt.Sprintf("http-127.0.0.1-%d", p) }
	t.Run("go server with healthz and metrics", func(t *testing.T) {
		s, ok := svcs[id(pMetrics)]
		if !ok {
			t.Fatalf("not found in %v", svcKeys(svcs))
		}
		if s.HealthURL != fmt.Sprintf("http://127.0.0.1:%d/healthz", pMetrics) || s.HealthCheck != "http" || s.Health != "healthy" {
			t.Fatalf("health: %+v", s)
		}
		if s.Labels["prometheus"] != "true" || s.Metadata["title"] != "Go metrics app" {
			t.Fatalf("fingerprint: labels %v metadata %v", s.Labels, s.Metadata)
		}
	})
	t.Run("go server with openapi and readyz", func(t *testing.T) {
		s := svcs[id(pAPI)]
		if s.Name != "Inventory API" || s.Metadata["openapi_version"] != "3.0.3" || !strings.HasSuffix(s.HealthURL, "/readyz") {
			t.Fatalf("%+v", s)
		}
		if s.Labels["prometheus"] == "true" {
			t.Fatal("no metrics endpoint here")
		}
	})
	t.Run("nginx", func(t *testing.T) {
		if pNginx == 0 {
			t.Skip("nginx not installed (apt-get install nginx-light)")
		}
		s := svcs[id(pNginx)]
		if s.Labels["server"] != "nginx" || !strings.HasPrefix(fmt.Sprint(s.Metadata["server"]), "nginx") || s.Metadata["title"] != "Welcome to nginx!" || s.HealthCheck != "http" {
			t.Fatalf("%+v", s)
		}
	})
	t.Run("closed port produces nothing", func(t *testing.T) {
		if _, ok := svcs[id(closed)]; ok {
			t.Fatal("closed port reported")
		}
	})
	t.Run("scan stays inside its targets", func(t *testing.T) {
		if n := outside.Load(); n != 0 {
			t.Fatalf("%d connections to 127.0.0.2", n)
		}
	})
	t.Run("lost service", func(t *testing.T) {
		metricsSrv.Close()
		recs := scan(t, c, "lab")
		if len(recs[0].Lost) != 1 || recs[0].Lost[0] != id(pMetrics) {
			t.Fatalf("lost = %v", recs[0].Lost)
		}
		var hist struct {
			Items []scanRecord `json:"items"`
		}
		if err := c.Do(bg(), http.MethodGet, "/discovery/history?limit=10", nil, &hist); err != nil {
			t.Fatal(err)
		}
		if len(hist.Items) < 2 || hist.Items[0].ID != recs[0].ID || hist.Items[0].Trigger != "manual" {
			t.Fatalf("history %+v", hist.Items)
		}
		eventually(t, 15*time.Second, "the service.lost workflow ran", func() bool {
			var ex struct {
				Items []map[string]any `json:"items"`
			}
			_ = c.Do(bg(), http.MethodGet, "/workflows/on_service_lost/executions", nil, &ex)
			return len(ex.Items) >= 1
		})
	})
	var st struct {
		Discovery struct {
			Services int `json:"services"`
		} `json:"discovery"`
	}
	if err := c.Do(bg(), http.MethodGet, "/status", nil, &st); err != nil || st.Discovery.Services < len(ports)-2 {
		t.Fatalf("status discovery.services = %d (%v)", st.Discovery.Services, err)
	}
}

func svcKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// everythingServer locates @modelcontextprotocol/server-everything or
// skips the test.
func everythingServer(t *testing.T) string {
	t.Helper()
	script, why := mcpEverything()
	if script == "" {
		t.Skip(why)
	}
	return script
}

func startEverything(t *testing.T, script, mode string) int {
	t.Helper()
	port := portOf(freePort(t))
	startEverythingOn(t, script, mode, port)
	return port
}

func TestDiscoveryMCP(t *testing.T) {
	t.Parallel()
	script := everythingServer(t)
	pStream := startEverything(t, script, "streamableHttp")
	pSSE := startEverything(t, script, "sse")
	pol := policiesWith(t, fmt.Sprintf(`
discovery "mcp" {
  protocol = "mcp"
  targets  = ["http://127.0.0.1:%d/mcp", "http://127.0.0.1:%d/sse"]
  interval = "1h"
}

discovery "mcp_stdio" {
  protocol = "mcp"
  command  = ["node", %q, "stdio"]
  interval = "1h"
  timeout  = "20s"
}

discovery "web" {
  protocol = "http"
  targets  = ["127.0.0.1"]
  ports    = [%d]
  interval = "1h"
}
`, pStream, pSSE, script, pStream), nil)
	h := startHost(t, hostOpts{policies: pol})
	c := h.admin()
	scan(t, c, "mcp")
	scan(t, c, "mcp_stdio")
	scan(t, c, "web")
	svcs := discoveredOf(t, c, "?kind=mcp")
	want := map[string]string{
		fmt.Sprintf("mcp-http-127.0.0.1-%d-mcp", pStream): "streamable_http",
		fmt.Sprintf("mcp-http-127.0.0.1-%d-sse", pSSE):    "sse",
		"mcp-stdio-mcp_stdio":                             "stdio",
	}
	for id, transport := range want {
		t.Run(transport, func(t *testing.T) {
			s, ok := svcs[id]
			if !ok {
				t.Fatalf("%s not found in %v", id, svcKeys(svcs))
			}
			md := s.Metadata
			if s.Name != "mcp-servers/everything" || md["transport"] != transport || md["server_version"] == "" {
				t.Fatalf("%+v", s)
			}
			if pv, _ := md["protocol_version"].(string); !strings.HasPrefix(pv, "20") {
				t.Fatalf("protocol version %v", md["protocol_version"])
			}
			if caps, _ := md["capabilities"].(map[string]any); caps["tools"] == nil {
				t.Fatalf("capabilities %v", md["capabilities"])
			}
			tools, _ := md["tools"].([]any)
			names := map[string]bool{}
			for _, x := range tools {
				if m, ok := x.(map[string]any); ok {
					names[fmt.Sprint(m["name"])] = true
				}
			}
			if len(tools) < 5 || !names["echo"] {
				t.Fatalf("tools %v", tools)
			}
		})
	}
	t.Run("http scan fingerprints the MCP endpoint", func(t *testing.T) {
		s := discoveredOf(t, c, "?source=web")[fmt.Sprintf("http-127.0.0.1-%d", pStream)]
		if s.Labels["mcp"] != "true" || s.Metadata["mcp_url"] != fmt.Sprintf("http://127.0.0.1:%d/mcp", pStream) {
			t.Fatalf("%+v", s)
		}
	})
}

const avahiConf = `[server]
host-name=%s
use-ipv4=yes
use-ipv6=no
allow-interfaces=lo
enable-dbus=%s
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
`

const avahiService = `<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name>%s</name>
  <service>
    <type>%s</type>
    <port>%d</port>
%s  </service>
</service-group>
`

// startAvahi runs avahi-daemon inside ns with a private mount namespace
// (its pid file, its static service files and, for avahi-browse, a
// private system bus) and runs `avahi-browse` for _heady._tcp in a loop,
// appending its output to the returned file.
func startAvahi(t *testing.T, ns string, services map[string]string) string {
	t.Helper()
	for _, tool := range []string{"avahi-daemon", "avahi-browse", "dbus-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install avahi-daemon avahi-utils dbus)", tool)
		}
	}
	dir := t.TempDir()
	for name, body := range services {
		writeFile(t, filepath.Join(dir, "services", name+".service"), body)
	}
	writeFile(t, filepath.Join(dir, "avahi.conf"), fmt.Sprintf(avahiConf, "avahi-e2e", "yes"))
	browse := filepath.Join(dir, "browse.out")
	script := fmt.Sprintf(`set -e
mkdir -p /run/dbus /run/avahi-daemon
mount -t tmpfs tmpfs /run/dbus
mount -t tmpfs tmpfs /run/avahi-daemon
mount --bind %[1]s/services /etc/avahi/services
dbus-daemon --system --fork --nopidfile
avahi-daemon -f %[1]s/avahi.conf --no-drop-root --no-chroot &
while true; do
  avahi-browse -r -t -p -k _heady._tcp >> %[2]s 2>&1 || true
  sleep 0.5
done
`, dir, browse)
	writeFile(t, filepath.Join(dir, "run.sh"), script)
	cmd := exec.Command("ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private", "sh", filepath.Join(dir, "run.sh"))
	logf, _ := os.Create(filepath.Join(dir, "avahi.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		// avahi-daemon daemonizes nothing here but may outlive sh.
		_ = exec.Command("ip", "netns", "pids", ns).Run()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "avahi.log"))
			t.Logf("avahi log:\n%s", b)
		}
		killNetnsPids(ns)
	})
	eventually(t, 15*time.Second, "avahi established its services", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "avahi.log"))
		return strings.Count(string(b), "successfully established") >= len(services)
	})
	return browse
}

// killNetnsPids kills what still runs inside ns.
func killNetnsPids(ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscanf(f, "%d", &pid); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func TestDiscoveryMDNS(t *testing.T) {
	t.Parallel()
	ns := newNetns(t)
	t.Cleanup(func() { killNetnsPids(ns) })
	browse := startAvahi(t, ns, map[string]string{
		"printer": fmt.Sprintf(avahiService, "Office Printer", "_ipp._tcp", 631, "    <txt-record>rp=printers/office</txt-record>\n    <txt-record>color=T</txt-record>\n"),
		"web":     fmt.Sprintf(avahiService, "Team Wiki", "_http._tcp", 8088, "    <txt-record>path=/wiki</txt-record>\n"),
	})
	pol := policiesWith(t, `
discovery "lan" {
  protocol = "mdns"
  interval = "1h"
  timeout  = "3s"
}
`, nil)
	h := startHost(t, hostOpts{policies: pol, netns: ns})
	c := h.admin()
	var svcs map[string]discoveredService
	eventually(t, 20*time.Second, "both avahi services discovered", func() bool {
		scan(t, c, "lan")
		svcs = discoveredOf(t, c, "?kind=mdns")
		return len(svcs) >= 2
	})
	cases := []struct {
		id, name, typ string
		port          int
		txt           map[string]string
	}{
		{"mdns-office-printer._ipp._tcp.local", "Office Printer", "_ipp._tcp", 631, map[string]string{"rp": "printers/office", "color": "T"}},
		{"mdns-team-wiki._http._tcp.local", "Team Wiki", "_http._tcp", 8088, map[string]string{"path": "/wiki"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := svcs[strings.ReplaceAll(tc.id, `\`, "")]
			if !ok {
				t.Fatalf("%s not in %v", tc.id, svcKeys(svcs))
			}
			txt, _ := s.Metadata["txt"].(map[string]any)
			for k, v := range tc.txt {
				if txt[k] != v {
					t.Fatalf("txt %v, want %v", txt, tc.txt)
				}
			}
			if s.Name != tc.name || s.Port != tc.port || s.Address != "127.0.0.1" || s.Labels["mdns_type"] != tc.typ || s.TCPAddress == "" {
				t.Fatalf("%+v", s)
			}
		})
	}
	t.Run("own announcement is left out of the scan", func(t *testing.T) {
		for id := range svcs {
			if strings.Contains(id, "_heady._tcp") {
				t.Fatalf("own announcement reported: %s", id)
			}
		}
	})
	t.Run("heady's announcement is seen by avahi-browse", func(t *testing.T) {
		eventually(t, 20*time.Second, "avahi-browse resolves _heady._tcp", func() bool {
			b, _ := os.ReadFile(browse)
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "=;") && strings.Contains(line, ";_heady._tcp;") && strings.Contains(line, fmt.Sprintf(";%d;", portOf(h.addr))) &&
					strings.Contains(line, `"api=/api/v1/automation"`) {
					return true
				}
			}
			return false
		})
	})
}

type node struct {
	ID       string             `json:"id"`
	State    string             `json:"state"`
	Metrics  map[string]float64 `json:"metrics"`
	Services []map[string]any   `json:"services"`
	Self     bool               `json:"self"`
}

func TestRegistryAgent(t *testing.T) {
	t.Parallel()
	_, pApp := goServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			fmt.Fprint(w, "ok")
			return
		}
		fmt.Fprint(w, "<title>agent app</title>")
	}))
	pol := policiesWith(t, `
discovery "local" {
  protocol = "local"
  interval = "1h"
}
`, map[string]string{"fleet.hcl": `
workflow "on_node_dead" {
  trigger "event" {
    type = "node.dead"
  }
  step "note" {
    action = "heady.clear_caches"
  }
}

service "api" {
  command    = ["sleep", "300"]
  depends_on = ["db"]
}

service "db" {
  command = ["sleep", "300"]
}
`})
	h := startHost(t, hostOpts{policies: pol})
	c := h.admin()
	agent := exec.Command(filepath.Join(binDir, "heady"), "agent", "--server", "http://"+h.addr, "--token", h.token,
		"--name", "agent-1", "--labels", "zone=test,role=worker", "--interval", "200ms", "--ttl", "1s",
		"--scan-every", "300ms", "--scan-targets", "127.0.0.1", "--scan-ports", fmt.Sprint(pApp), "--address", "127.0.0.1")
	agent.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var agentOut strings.Builder
	agent.Stdout, agent.Stderr = &agentOut, &agentOut
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan struct{})
	go func() { _ = agent.Wait(); close(agentDone) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-agent.Process.Pid, syscall.SIGKILL)
		<-agentDone
		if t.Failed() {
			t.Logf("agent output:\n%s", agentOut.String())
		}
	})
	var n node
	eventually(t, 20*time.Second, "agent registered with metrics and its service", func() bool {
		if err := c.Do(bg(), http.MethodGet, "/registry/nodes/agent-1", nil, &n); err != nil {
			return false
		}
		return n.State == "alive" && n.Metrics["memory"] > 0 && len(n.Services) == 1
	})
	t.Run("agent's service is discovered", func(t *testing.T) {
		eventually(t, 10*time.Second, "the agent's service in discovery", func() bool {
			s, ok := discoveredOf(t, c, "")[fmt.Sprintf("http-127.0.0.1-%d", pApp)]
			return ok && s.HealthCheck == "http" && s.Labels["node"] == "agent-1"
		})
	})
	t.Run("topology", func(t *testing.T) {
		var topo struct {
			Vertices []struct{ ID, Kind string }       `json:"vertices"`
			Edges    []struct{ From, To, Kind string } `json:"edges"`
		}
		eventually(t, 10*time.Second, "declared and observed edges", func() bool {
			if err := c.Do(bg(), http.MethodGet, "/registry/topology", nil, &topo); err != nil {
				return false
			}
			declared, observed := false, false
			for _, e := range topo.Edges {
				if e.Kind == "declared" && e.From == "service:api" && e.To == "service:db" {
					declared = true
				}
				if e.Kind == "observed" && e.From == "node:agent-1" && strings.HasPrefix(e.To, "node:") {
					observed = true // the agent's connection to the host's API
				}
			}
			return declared && observed
		})
		for _, f := range []struct{ format, want string }{{"dot", "digraph heady"}, {"mermaid", "flowchart LR"}} {
			res, err := c.Raw(bg(), http.MethodGet, "/api/v1/automation/registry/topology?format="+f.format, nil)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 64<<10)
			nr, _ := res.Body.Read(b)
			res.Body.Close()
			if res.StatusCode != 200 || !strings.Contains(string(b[:nr]), f.want) || !strings.Contains(string(b[:nr]), "observed") {
				t.Fatalf("%s: %d %s", f.format, res.StatusCode, b[:nr])
			}
		}
	})
	t.Run("kill -9 goes suspect then dead", func(t *testing.T) {
		_ = syscall.Kill(-agent.Process.Pid, syscall.SIGKILL)
		<-agentDone
		killed := time.Now()
		var sawSuspect bool
		eventually(t, 10*time.Second, "agent dead", func() bool {
			if err := c.Do(bg(), http.MethodGet, "/registry/nodes/agent-1", nil, &n); err != nil {
				return false
			}
			if n.State == "suspect" {
				sawSuspect = true
			}
			return n.State == "dead"
		})
		took := time.Since(killed)
		if !sawSuspect {
			t.Log("suspect state passed between polls")
		}
		// TTL 1s: dead after 2×TTL, plus the 1s sweep and the last beat.
		if took > 4*time.Second {
			t.Fatalf("dead after %s, want within 2×TTL plus a sweep", took)
		}
		eventually(t, 15*time.Second, "node.dead workflow ran", func() bool {
			var ex struct {
				Items []map[string]any `json:"items"`
			}
			_ = c.Do(bg(), http.MethodGet, "/workflows/on_node_dead/executions", nil, &ex)
			return len(ex.Items) >= 1
		})
		var audit struct {
			Items []map[string]any `json:"items"`
		}
		if err := c.Do(bg(), http.MethodGet, "/audit/logs?action=registry.node.heartbeat&limit=1", nil, &audit); err != nil || len(audit.Items) == 0 {
			t.Fatalf("heartbeats are audited: %v %v", err, audit.Items)
		}
	})
	t.Run("host node and status", func(t *testing.T) {
		var nodes struct {
			Items []node `json:"items"`
		}
		if err := c.Do(bg(), http.MethodGet, "/registry/nodes?state=alive", nil, &nodes); err != nil {
			t.Fatal(err)
		}
		if len(nodes.Items) != 1 || !nodes.Items[0].Self {
			t.Fatalf("alive nodes %+v", nodes.Items)
		}
		if err := c.Do(bg(), http.MethodDelete, "/registry/nodes/agent-1", nil, nil); err != nil {
			t.Fatal(err)
		}
		err := c.Do(bg(), http.MethodGet, "/registry/nodes/agent-1", nil, &n)
		if ae, ok := err.(*client.APIError); !ok || ae.Status != 404 {
			t.Fatalf("after delete: %v", err)
		}
	})
}
