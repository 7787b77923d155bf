// Command loadgen drives a running Heady host over loopback for a bounded
// time and count, and reports what it measured.
//
//	loadgen -mode api   -addr 127.0.0.1:PORT -token T -method GET -path /status
//	loadgen -mode flood -addr 127.0.0.1:PORT -token T -workflow load
//
// api keeps -c requests in flight for -d and prints requests per second,
// latency percentiles and status counts. flood sends events from -c
// senders as fast as the host answers (above what its workers drain),
// records every 202, 429 and 503 and whether the refusals carry
// Retry-After, samples the host's RSS from /proc/PID/status (-pid), and
// afterwards checks that every accepted event has its execution of
// -workflow. Both modes refuse addresses outside loopback.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	mode := flag.String("mode", "api", "api | flood")
	addr := flag.String("addr", "", "host:port of the Heady API (loopback only)")
	token := flag.String("token", "", "bearer token")
	method := flag.String("method", "GET", "api: request method")
	path := flag.String("path", "/status", "api: path under /api/v1/automation")
	body := flag.String("body", "", "api: request body")
	conns := flag.Int("c", 32, "requests in flight")
	dur := flag.Duration("d", 10*time.Second, "how long to send")
	max := flag.Int64("n", 2_000_000, "at most this many requests")
	pid := flag.Int("pid", 0, "host process id, for RSS sampling")
	wf := flag.String("workflow", "load", "flood: workflow the events trigger")
	drain := flag.Duration("drain", 120*time.Second, "flood: how long to wait for every execution")
	prefix := flag.String("prefix", "/api/v1/automation", "path prefix (empty for a plain server)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "loadgen: -addr %q must be a loopback address with a port\n", *addr)
		os.Exit(2)
	}
	g := &gen{base: "http://" + *addr + *prefix, token: *token, pid: *pid,
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *conns * 2, MaxConnsPerHost: *conns * 2}}}
	stopRSS := g.sampleRSS()
	switch *mode {
	case "api":
		err = g.api(*method, *path, *body, *conns, *dur, *max)
	case "flood":
		err = g.flood(*conns, *dur, *max, *wf, *drain)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	stopRSS()
	if g.pid > 0 {
		fmt.Printf("host peak RSS during the run: %.1f MiB (at start %.1f MiB, at end %.1f MiB)\n",
			float64(g.peakRSS.Load())/1024, float64(g.firstRSS.Load())/1024, float64(g.lastRSS.Load())/1024)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type gen struct {
	base, token string
	pid         int
	hc          *http.Client
	// RSS in KiB
	peakRSS, firstRSS, lastRSS atomic.Int64
}

// rssKiB reads VmRSS of pid.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

func (g *gen) sampleRSS() (stop func()) {
	if g.pid <= 0 {
		return func() {}
	}
	g.firstRSS.Store(rssKiB(g.pid))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if r := rssKiB(g.pid); r > 0 {
				g.lastRSS.Store(r)
				if r > g.peakRSS.Load() {
					g.peakRSS.Store(r)
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (g *gen) do(method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequest(method, g.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if g.token != "" {
		req.Header.Set("Authorization", "Bearer "+g.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return g.hc.Do(req)
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

// api keeps conns requests in flight for dur.
func (g *gen) api(method, path, body string, conns int, dur time.Duration, max int64) error {
	var sent atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	codes := map[int]int{}
	var errs atomic.Int64
	end := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			my := map[int]int{}
			for time.Now().Before(end) && sent.Add(1) <= max {
				var b []byte
				if body != "" {
					b = []byte(body)
				}
				t0 := time.Now()
				resp, err := g.do(method, path, b)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
				my[resp.StatusCode]++
			}
			mu.Lock()
			lat = append(lat, mine...)
			for k, v := range my {
				codes[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("%s %s: %d requests in %s, %.0f req/s, latency p50 %s p99 %s max %s, statuses %v, errors %d (%d in flight)\n",
		method, path, len(lat), el.Round(time.Millisecond), float64(len(lat))/el.Seconds(),
		pct(lat, 0.50).Round(time.Microsecond), pct(lat, 0.99).Round(time.Microsecond), pct(lat, 1).Round(time.Microsecond),
		codes, errs.Load(), conns)
	if len(lat) == 0 {
		return fmt.Errorf("no request answered")
	}
	return nil
}

// flood sends events from conns senders for dur, then waits for every
// accepted event's execution.
func (g *gen) flood(conns int, dur time.Duration, max int64, wf string, drain time.Duration) error {
	var sent, acc, r429, r503, withRA, other, errs atomic.Int64
	var mu sync.Mutex
	accepted := map[string]bool{}
	var lat []time.Duration
	end := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var ids []string
			for time.Now().Before(end) {
				n := sent.Add(1)
				if n > max {
					break
				}
				b, _ := json.Marshal(map[string]any{"type": "load.event", "data": map[string]any{"n": n}})
				t0 := time.Now()
				resp, err := g.do(http.MethodPost, "/events", b)
				if err != nil {
					errs.Add(1)
					continue
				}
				var out struct {
					EventID string `json:"event_id"`
				}
				if resp.StatusCode == http.StatusAccepted {
					_ = json.NewDecoder(resp.Body).Decode(&out)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
				switch resp.StatusCode {
				case http.StatusAccepted:
					if out.EventID != "" {
						acc.Add(1)
						ids = append(ids, out.EventID)
					}
				case http.StatusTooManyRequests, http.StatusServiceUnavailable:
					if resp.StatusCode == http.StatusTooManyRequests {
						r429.Add(1)
					} else {
						r503.Add(1)
					}
					ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
					if ra > 0 {
						withRA.Add(1)
						// A polite client waits; a flood does not wait
						// long, so the pressure stays on.
						time.Sleep(min(time.Duration(ra)*time.Second, 100*time.Millisecond))
					}
				default:
					other.Add(1)
				}
			}
			mu.Lock()
			for _, id := range ids {
				accepted[id] = true
			}
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	refused := r429.Load() + r503.Load()
	fmt.Printf("event flood: %d sent in %s by %d senders (%.0f/s answered), 202 accepted %d (%.0f/s), 429 %d, 503 %d (%d of %d refusals with Retry-After), other %d, errors %d; answer latency p50 %s p99 %s\n",
		min(sent.Load(), max), el.Round(time.Millisecond), conns, float64(len(lat))/el.Seconds(), acc.Load(), float64(acc.Load())/el.Seconds(),
		r429.Load(), r503.Load(), withRA.Load(), refused, other.Load(), errs.Load(), pct(lat, 0.5).Round(time.Microsecond), pct(lat, 0.99).Round(time.Microsecond))

	// Every accepted event has its execution, and every execution ends.
	t0 := time.Now()
	var found, unfinished, dup int
	for {
		seen := map[string]int{}
		unfinished = 0
		cursor := ""
		for {
			q := url.Values{"limit": {"1000"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			resp, err := g.do(http.MethodGet, "/workflows/"+wf+"/executions?"+q.Encode(), nil)
			if err != nil {
				return err
			}
			var page struct {
				Items []struct {
					Status  string `json:"status"`
					Trigger struct {
						EventID string `json:"event_id"`
					} `json:"trigger"`
				} `json:"items"`
				NextCursor string `json:"next_cursor"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil {
				return fmt.Errorf("executions: %w", err)
			}
			for _, x := range page.Items {
				seen[x.Trigger.EventID]++
				if x.Status != "succeeded" && x.Status != "failed" && x.Status != "cancelled" {
					unfinished++
				}
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		found, dup = 0, 0
		for id := range accepted {
			switch seen[id] {
			case 0:
			case 1:
				found++
			default:
				found++
				dup++
			}
		}
		if (found == len(accepted) && unfinished == 0) || time.Since(t0) > drain {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	lost := len(accepted) - found
	fmt.Printf("drain: %d of %d accepted events have their execution (lost %d, executed twice %d, unfinished %d) %s after the flood ended\n",
		found, len(accepted), lost, dup, unfinished, time.Since(t0).Round(time.Millisecond))
	if lost > 0 || dup > 0 || unfinished > 0 {
		return fmt.Errorf("%d accepted events lost, %d executed twice, %d executions unfinished", lost, dup, unfinished)
	}
	return nil
}
