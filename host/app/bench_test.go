package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/api"
)

// loadLoop sends b.N GETs to url from conc goroutines over keep-alive
// connections and reports requests per second.
func loadLoop(b *testing.B, url string, conc int) {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				resp, err := hc.Get(url)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, b.N)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
}

// BenchmarkStatusHost measures GET /status on a full host: auth middleware,
// the status handler and a durable audit entry per request.
func BenchmarkStatusHost(b *testing.B) {
	pol := b.TempDir()
	h, err := Start(context.Background(), Options{PoliciesDir: pol, DataDir: b.TempDir(), Listen: "127.0.0.1:0",
		Out: io.Discard, LogOut: io.Discard, BootstrapToken: "hdy_00000000000e2e01_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Shutdown(context.Background())
	loadLoop(b, "http://"+h.Addr().String()+api.Prefix+"/status", 16)
}

// BenchmarkStatusBareFiber is the baseline: a bare Fiber handler answering
// a status document of the same shape.
func BenchmarkStatusBareFiber(b *testing.B) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	body := api.Status{Healing: api.Health{OverallStatus: "healthy", Components: []api.HealthComponent{{Name: "store", Status: "healthy"}}}}
	app.Get(api.Prefix+"/status", func(c *fiber.Ctx) error { return c.JSON(body) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	defer app.Shutdown()
	loadLoop(b, "http://"+ln.Addr().String()+api.Prefix+"/status", 16)
}
