package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

// The test binary doubles as the pool's HTTP worker: started with
// SCALE_TEST_WORKER=1 it serves on $PORT, writes its pid to
// $SCALE_TEST_PIDS/REPLICA.pid and exits cleanly on SIGTERM.
func init() {
	if os.Getenv("SCALE_TEST_WORKER") == "1" {
		runWorker()
		os.Exit(0)
	}
}

func runWorker() {
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
	if dir := os.Getenv("SCALE_TEST_PIDS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, os.Getenv("HEADY_REPLICA")+".pid"), []byte(strconv.Itoa(os.Getpid())), 0o600)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", os.Getenv("HEADY_REPLICA"), r.URL.Path)
	})}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	_ = srv.Serve(ln)
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestManifest(t *testing.T) {
	p := plugintest.Start(t, Options()...)
	plugintest.CheckManifest(t, p.Manifest)
	kinds := map[string]sdk.Kind{}
	for _, c := range p.Manifest.Components {
		kinds[c.Name] = c.Kind
	}
	for _, n := range []string{"process_pool", "exec", "webhook"} {
		if kinds[n] != sdk.KindScaler {
			t.Errorf("component %s: kind %q, want scaler", n, kinds[n])
		}
	}
}

func TestProcessPool(t *testing.T) {
	ctx := context.Background()
	p := plugintest.Start(t, Options()...)
	if _, err := p.Configure(ctx, "process_pool", nil); err != nil {
		t.Fatal(err)
	}
	pids := t.TempDir()
	lo := 20000 + (os.Getpid()%200)*50
	proxyAddr := "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
	target := sdk.Target{Name: "web", Config: map[string]any{
		"command": []any{os.Args[0], "-test.run=^$"}, "env": map[string]any{"SCALE_TEST_WORKER": "1", "SCALE_TEST_PIDS": pids},
		"port_min": lo, "port_max": lo + 49, "drain_timeout": "3s", "health_timeout": "10s",
		"proxy": proxyAddr, "rate_window": "2s", "report_interval": "200ms",
	}}
	t.Cleanup(func() { _, _ = p.Scale(context.Background(), "process_pool", target, 0) })

	n, _, err := p.ScaleCurrent(ctx, "process_pool", target)
	if err != nil || n != 0 {
		t.Fatalf("empty pool: current = %d, %v", n, err)
	}
	res, err := p.Scale(ctx, "process_pool", target, 3)
	if err != nil || res.Current != 3 {
		t.Fatalf("scale to 3 = %+v, %v", res, err)
	}
	regs := 0
	for _, e := range p.Host.Events() {
		if e.Type == "node.registered" {
			regs++
			if !strings.HasPrefix(e.Data["address"].(string), "127.0.0.1:") || !strings.HasPrefix(e.Data["id"].(string), "web-") {
				t.Errorf("registration = %+v", e.Data)
			}
		}
	}
	if regs != 3 {
		t.Fatalf("%d node.registered events, want 3", regs)
	}

	// The proxy spreads requests over the replicas and reports the rate.
	seen := map[string]bool{}
	for i := 0; i < 30; i++ {
		resp, err := http.Get("http://" + proxyAddr + "/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[strings.Fields(string(b))[0]] = true
	}
	if len(seen) != 3 {
		t.Fatalf("requests reached %v, want all 3 replicas", seen)
	}
	waitFor(t, 5*time.Second, "a requests_per_min report above 0", func() bool {
		for _, e := range p.Host.Events() {
			if e.Type != "metric.sample" {
				continue
			}
			for _, s := range e.Data["samples"].([]any) {
				m := s.(map[string]any)
				if m["series"] == "service.web.requests_per_min" && m["value"].(float64) > 0 {
					return true
				}
			}
		}
		return false
	})

	// A replica killed from outside is no longer counted.
	b, err := os.ReadFile(filepath.Join(pids, "web-2.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(string(b))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the killed replica to be noticed", func() bool {
		n, _, err := p.ScaleCurrent(ctx, "process_pool", target)
		return err == nil && n == 2
	})

	// Scale down drains gracefully (the worker exits on SIGTERM well
	// within the grace period).
	start := time.Now()
	res, err = p.Scale(ctx, "process_pool", target, 1)
	if err != nil || res.Current != 1 {
		t.Fatalf("scale to 1 = %+v, %v", res, err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Fatalf("drain took %v: SIGTERM was not honoured before the grace period", d)
	}
	deregs := 0
	for _, e := range p.Host.Events() {
		if e.Type == "node.deregistered" {
			deregs++
		}
	}
	if deregs != 2 {
		t.Fatalf("%d node.deregistered events, want 2 (one exited, one drained)", deregs)
	}
}

func TestProcessPoolHealthFailure(t *testing.T) {
	ctx := context.Background()
	p := plugintest.Start(t, Options()...)
	if _, err := p.Configure(ctx, "process_pool", nil); err != nil {
		t.Fatal(err)
	}
	lo := 22500 + (os.Getpid()%200)*10
	tests := []struct {
		name string
		cfg  map[string]any
		want string
	}{
		{"exits at once", map[string]any{"command": []any{"false"}, "health_timeout": "5s"}, "exited before becoming healthy"},
		{"never listens", map[string]any{"command": []any{"sleep", "30"}, "health_timeout": "300ms"}, "not healthy"},
		{"no command", map[string]any{}, "command is required"},
		{"bad range", map[string]any{"command": []any{"true"}, "port_min": 10, "port_max": 5}, "port range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := map[string]any{"port_min": lo, "port_max": lo + 9}
			for k, v := range tt.cfg {
				cfg[k] = v
			}
			target := sdk.Target{Name: "bad-" + strings.ReplaceAll(tt.name, " ", "-"), Config: cfg}
			_, err := p.Scale(ctx, "process_pool", target, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if n, _, _ := p.ScaleCurrent(ctx, "process_pool", target); n != 0 && tt.name != "no command" && tt.name != "bad range" {
				t.Fatalf("a failed replica is counted: %d", n)
			}
		})
	}
}

func TestExecScaler(t *testing.T) {
	ctx := context.Background()
	p := plugintest.Start(t, Options()...)
	if _, err := p.Configure(ctx, "exec", nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "scale.sh")
	body := "#!/bin/sh\nf=\"$STATE\"\ncase \"$1\" in\n  current) cat \"$f\" 2>/dev/null || echo 0 ;;\n  scale) [ \"$HEADY_DESIRED\" = \"$2\" ] || exit 3; echo \"$2\" > \"$f\"; echo \"scaled $HEADY_POLICY to $2\" ;;\n  *) exit 2 ;;\nesac\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "count")
	target := sdk.Target{Name: "batch", Config: map[string]any{"command": []any{script}, "env": map[string]any{"STATE": state}}}
	if n, _, err := p.ScaleCurrent(ctx, "exec", target); err != nil || n != 0 {
		t.Fatalf("current = %d, %v", n, err)
	}
	res, err := p.Scale(ctx, "exec", target, 4)
	if err != nil || res.Current != 4 || !strings.Contains(res.Message, "scaled batch to 4") {
		t.Fatalf("scale = %+v, %v", res, err)
	}
	// Changed outside Heady: the script's count is authoritative.
	if err := os.WriteFile(state, []byte("7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n, _, err := p.ScaleCurrent(ctx, "exec", target); err != nil || n != 7 {
		t.Fatalf("current after outside change = %d, %v", n, err)
	}
	t.Run("failing script", func(t *testing.T) {
		bad := sdk.Target{Name: "batch", Config: map[string]any{"command": []any{"sh", "-c", "echo boom >&2; exit 1", "x"}}}
		_, err := p.Scale(ctx, "exec", bad, 2)
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		slow := sdk.Target{Name: "batch", Config: map[string]any{"command": []any{"sh", "-c", "sleep 10", "x"}, "timeout": "200ms"}}
		start := time.Now()
		_, _, err := p.ScaleCurrent(ctx, "exec", slow)
		if err == nil || !strings.Contains(err.Error(), "timed out") || time.Since(start) > 5*time.Second {
			t.Fatalf("err = %v after %v", err, time.Since(start))
		}
	})
}

func TestWebhookScaler(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	count := 2
	var sigOK bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			sigOK = pluginutil.VerifySignature("s3cret", b, r.Header.Get(pluginutil.HeaderSignature)) && r.Header.Get("X-Team") == "ops"
			var req struct {
				Policy  string `json:"policy"`
				Desired int    `json:"desired"`
			}
			if json.Unmarshal(b, &req) != nil || req.Policy != "api" {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			count = req.Desired
			fmt.Fprintf(w, `{"current": %d, "message": "ok"}`, count)
			return
		}
		fmt.Fprintf(w, `{"current": %d}`, count)
	}))
	defer srv.Close()
	p := plugintest.Start(t, Options()...)
	if _, err := p.Configure(ctx, "webhook", nil); err != nil {
		t.Fatal(err)
	}
	target := sdk.Target{Name: "api", Config: map[string]any{"url": srv.URL, "secret": "s3cret", "headers": map[string]any{"X-Team": "ops"}}}
	if n, _, err := p.ScaleCurrent(ctx, "webhook", target); err != nil || n != 2 {
		t.Fatalf("current = %d, %v", n, err)
	}
	res, err := p.Scale(ctx, "webhook", target, 5)
	if err != nil || res.Current != 5 || res.Message != "ok" {
		t.Fatalf("scale = %+v, %v", res, err)
	}
	mu.Lock()
	ok := sigOK
	mu.Unlock()
	if !ok {
		t.Fatal("the POST was not signed with the secret or lacked the header")
	}
	t.Run("error status", func(t *testing.T) {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusInternalServerError) }))
		defer bad.Close()
		_, err := p.Scale(ctx, "webhook", sdk.Target{Name: "api", Config: map[string]any{"url": bad.URL}}, 1)
		if err == nil || !strings.Contains(err.Error(), "500") {
			t.Fatalf("err = %v", err)
		}
	})
}
