package pluginhost

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/heady-dev/heady/sdk"
	pluginpb "github.com/heady-dev/heady/sdk/proto"
)

// benchInputs is the payload of every benchmarked call.
var benchInputs = map[string]any{"value": "hello", "n": 1.0}

// BenchmarkPluginCall measures one action call round trip: a raw gRPC
// unary call to another process over a Unix socket (with the same JSON work
// as the sdk), and the noop plugin through the plugin host with AutoMTLS on
// and off, each at concurrency 1, 8 and 32. It reports calls/s and, at
// concurrency 1, the median latency (p50-µs).
func BenchmarkPluginCall(b *testing.B) {
	raw := startRaw(b)
	call := map[string]func(ctx context.Context) error{"raw": raw}
	for _, mode := range []struct {
		name string
		off  bool
	}{{"plugin-mtls", false}, {"plugin-plain", true}} {
		m := New(Options{Dirs: []string{pluginDir}, DisableAutoMTLS: mode.off})
		b.Cleanup(func() { _ = m.Close(context.Background()) })
		if _, err := m.RunAction(context.Background(), "noop.ok", sdk.ActionRequest{}); err != nil {
			b.Fatal(err)
		}
		call[mode.name] = func(ctx context.Context) error {
			resp, err := m.RunAction(ctx, "noop.ok", sdk.ActionRequest{Inputs: benchInputs})
			if err == nil && resp.Outputs["value"] != "hello" {
				err = fmt.Errorf("outputs %v", resp.Outputs)
			}
			return err
		}
	}
	for _, name := range []string{"raw", "plugin-mtls", "plugin-plain"} {
		for _, c := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("%s/c=%d", name, c), func(b *testing.B) { runConcurrent(b, c, call[name]) })
		}
	}
}

// startRaw runs testdata/rawserver in its own process and returns a call.
func startRaw(b *testing.B) func(ctx context.Context) error {
	sock := filepath.Join(b.TempDir(), "raw.sock")
	cmd := exec.Command(rawBin, sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		b.Fatalf("raw server: %v", err)
	}
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	pc := pluginpb.NewPluginClient(cc)
	return func(ctx context.Context) error {
		in, err := json.Marshal(benchInputs)
		if err != nil {
			return err
		}
		r, err := pc.RunAction(ctx, &pluginpb.ActionRequest{Component: "ok", Inputs: in})
		if err != nil {
			return err
		}
		var outputs map[string]any
		if err := json.Unmarshal(r.Outputs, &outputs); err != nil {
			return err
		}
		if outputs["value"] != "hello" {
			return fmt.Errorf("outputs %v", outputs)
		}
		return nil
	}
}

// runConcurrent runs b.N calls over c goroutines and reports calls/s; at
// c=1 also the median latency.
func runConcurrent(b *testing.B, c int, call func(ctx context.Context) error) {
	ctx := context.Background()
	for i := 0; i < 50; i++ { // warm up connections
		if err := call(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var lat []time.Duration
	if c == 1 {
		lat = make([]time.Duration, 0, b.N)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	work := make(chan struct{}, b.N)
	for i := 0; i < b.N; i++ {
		work <- struct{}{}
	}
	close(work)
	b.ResetTimer()
	start := time.Now()
	for g := 0; g < c; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				t0 := time.Now()
				err := call(ctx)
				if c == 1 {
					lat = append(lat, time.Since(t0))
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	if c == 1 && len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	}
}
