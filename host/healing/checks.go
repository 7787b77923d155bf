package healing

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/store"
)

// Result is the outcome of one run of a check's probe.
type Result struct {
	OK     bool
	Output string
	// Values are the measured figures (heap_alloc_bytes, used_percent, ...).
	Values map[string]any
}

func fail(format string, args ...any) Result {
	return Result{Output: fmt.Sprintf(format, args...)}
}

// probe runs the check's probe once, bounded by its timeout.
func (e *Engine) probe(ctx context.Context, c *config.Check) Result {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	switch c.Type {
	case "http":
		return e.probeHTTP(ctx, c)
	case "tcp":
		return probeTCP(ctx, c)
	case "exec":
		return probeExec(ctx, c)
	case "process":
		return e.probeProcess(c)
	case "store":
		return e.probeStore(ctx)
	case "memory":
		return probeMemory(c)
	case "disk":
		return probeDisk(c)
	case "plugins":
		return e.probePlugins(ctx)
	}
	return fail("unknown check type %q", c.Type)
}

// httpClients are the host's HTTP clients for checks; RecycleConnections
// closes their idle connections.
type httpClients struct {
	verify, skip *http.Client
}

func newHTTPClients() *httpClients {
	mk := func(skip bool) *http.Client {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 4
		if skip {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the policy asked for it
		}
		return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &httpClients{verify: mk(false), skip: mk(true)}
}

func (h *httpClients) closeIdle() {
	h.verify.CloseIdleConnections()
	h.skip.CloseIdleConnections()
}

func (e *Engine) probeHTTP(ctx context.Context, c *config.Check) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return fail("bad url: %v", err)
	}
	req.Header.Set("User-Agent", "heady-health-check")
	cl := e.http.verify
	if c.TLSSkipVerify {
		cl = e.http.skip
	}
	start := time.Now()
	resp, err := cl.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail("GET %s: no answer within %s", c.URL, c.Timeout)
		}
		return fail("GET %s: %v", c.URL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	ms := time.Since(start).Milliseconds()
	vals := map[string]any{"status": resp.StatusCode, "latency_ms": ms}
	okStatus := resp.StatusCode >= 200 && resp.StatusCode < 400
	if len(c.ExpectStatus) > 0 {
		okStatus = false
		for _, s := range c.ExpectStatus {
			if s == resp.StatusCode {
				okStatus = true
			}
		}
	}
	if !okStatus {
		return Result{Output: fmt.Sprintf("GET %s: status %d %s (%d ms)", c.URL, resp.StatusCode, http.StatusText(resp.StatusCode), ms), Values: vals}
	}
	if c.BodyMatch != "" {
		re, err := regexp.Compile(c.BodyMatch)
		if err != nil {
			return fail("body_match: %v", err)
		}
		if !re.Match(body) {
			return Result{Output: fmt.Sprintf("GET %s: status %d but the body does not match %q", c.URL, resp.StatusCode, c.BodyMatch), Values: vals}
		}
	}
	return Result{OK: true, Output: fmt.Sprintf("GET %s: status %d (%d ms)", c.URL, resp.StatusCode, ms), Values: vals}
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

func probeTCP(ctx context.Context, c *config.Check) Result {
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Address)
	if err != nil {
		return fail("connect %s: %v", c.Address, err)
	}
	_ = conn.Close()
	ms := time.Since(start).Milliseconds()
	return Result{OK: true, Output: fmt.Sprintf("connect %s: ok (%d ms)", c.Address, ms), Values: map[string]any{"latency_ms": ms}}
}

func probeExec(ctx context.Context, c *config.Check) Result {
	cmd := exec.CommandContext(ctx, c.Command[0], c.Command[1:]...)
	setGroup(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if len(text) > 512 {
		text = text[:512] + "…"
	}
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	vals := map[string]any{"exit_code": code}
	if err != nil {
		if ctx.Err() != nil {
			return Result{Output: fmt.Sprintf("%s: no result within %s", c.Command[0], c.Timeout), Values: vals}
		}
		msg := fmt.Sprintf("%s: %v", c.Command[0], err)
		if text != "" {
			msg += ": " + text
		}
		return Result{Output: msg, Values: vals}
	}
	if text == "" {
		text = "exit status 0"
	}
	return Result{OK: true, Output: text, Values: vals}
}

func (e *Engine) probeProcess(c *config.Check) Result {
	if e.opts.Services == nil {
		return fail("service %s: no supervisor", c.Service)
	}
	st, ok := e.opts.Services.Get(c.Service)
	if !ok {
		return fail("service %s: not declared", c.Service)
	}
	vals := map[string]any{"state": st.State, "pid": st.PID, "restarts": st.Restarts}
	if !st.Running() {
		msg := fmt.Sprintf("service %s: %s", c.Service, st.State)
		if st.LastExit != "" {
			msg += " (" + st.LastExit + ")"
		}
		return Result{Output: msg, Values: vals}
	}
	// The kernel is the last word: the pid must still exist.
	if !pidAlive(st.PID) {
		return Result{Output: fmt.Sprintf("service %s: pid %d is gone", c.Service, st.PID), Values: vals}
	}
	return Result{OK: true, Output: fmt.Sprintf("service %s: running, pid %d, up %s", c.Service, st.PID,
		time.Since(st.StartedAt).Truncate(time.Second)), Values: vals}
}

// probeStore writes a probe key through the single write path and reads it
// back. A write that does not finish within the timeout means the database
// is locked or stalled.
func (e *Engine) probeStore(ctx context.Context) Result {
	if e.opts.Store == nil {
		return fail("no store")
	}
	if e.opts.Store.DB().IsClosed() {
		return fail("database is closed")
	}
	key := store.SpaceHealth + "probe/" + e.node
	val := []byte(time.Now().UTC().Format(time.RFC3339Nano))
	start := time.Now()
	if err := e.opts.Store.Apply(ctx, store.Put(key, val)); err != nil {
		if ctx.Err() != nil {
			return fail("database locked or stalled: write probe did not finish within the timeout")
		}
		return fail("write probe failed: %v", err)
	}
	got, err := e.opts.Store.Get(key)
	if err != nil || !bytes.Equal(got, val) {
		return fail("read probe failed: %v", err)
	}
	ms := time.Since(start).Milliseconds()
	return Result{OK: true, Output: fmt.Sprintf("write and read probe ok (%d ms)", ms), Values: map[string]any{"latency_ms": ms}}
}

// probeMemory compares this process's resident memory with threshold_bytes
// and the host's used memory with threshold (percent).
func probeMemory(c *config.Check) Result {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := processRSS()
	vals := map[string]any{"rss_bytes": rss, "heap_alloc_bytes": ms.HeapAlloc, "heap_retained_bytes": ms.HeapSys - ms.HeapReleased}
	var parts []string
	ok := true
	if c.ThresholdBytes > 0 {
		parts = append(parts, fmt.Sprintf("process rss %s (limit %s), heap %s", human(rss), human(uint64(c.ThresholdBytes)), human(ms.HeapAlloc)))
		if rss > uint64(c.ThresholdBytes) {
			ok = false
		}
	}
	if c.ThresholdPercent > 0 {
		used, total, err := hostMemory()
		if err != nil {
			return Result{Output: "host memory: " + err.Error(), Values: vals}
		}
		pct := 100 * float64(used) / float64(total)
		vals["used_percent"] = round1(pct)
		parts = append(parts, fmt.Sprintf("host memory %.1f%% used of %s (threshold %g%%)", pct, human(total), c.ThresholdPercent))
		if pct > c.ThresholdPercent {
			ok = false
		}
	}
	return Result{OK: ok, Output: strings.Join(parts, "; "), Values: vals}
}

// probeDisk compares the used share of the file system holding path (as df
// counts it: blocks reserved for root do not count as available) with the
// threshold.
func probeDisk(c *config.Check) Result {
	used, avail, err := diskUsage(c.Path)
	if err != nil {
		return fail("statfs %s: %v", c.Path, err)
	}
	if used+avail == 0 {
		return fail("statfs %s: empty file system", c.Path)
	}
	pct := 100 * float64(used) / float64(used+avail)
	vals := map[string]any{"used_percent": round1(pct), "used_bytes": used, "available_bytes": avail}
	out := fmt.Sprintf("%s: %.1f%% used, %s available (threshold %g%%)", c.Path, pct, human(avail), c.ThresholdPercent)
	return Result{OK: pct <= c.ThresholdPercent, Output: out, Values: vals}
}

func (e *Engine) probePlugins(ctx context.Context) Result {
	if e.opts.Plugins == nil {
		return Result{OK: true, Output: "no plugin host"}
	}
	res := e.opts.Plugins.Ping(ctx)
	if len(res) == 0 {
		return Result{OK: true, Output: "no plugin process running yet (plugins start on first use)", Values: map[string]any{"running": 0, "failing": 0}}
	}
	var bad []string
	for _, err := range res {
		if err != nil {
			bad = append(bad, err.Error())
		}
	}
	sort.Strings(bad)
	vals := map[string]any{"running": len(res), "failing": len(bad)}
	if len(bad) > 0 {
		return Result{Output: strings.Join(bad, "; "), Values: vals}
	}
	return Result{OK: true, Output: fmt.Sprintf("%d plugin processes answer", len(res)), Values: vals}
}

// processRSS is this process's resident set size in bytes.
func processRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.Sys - ms.HeapReleased
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// hostMemory reads used (total - available) and total bytes from
// /proc/meminfo.
func hostMemory() (used, total uint64, err error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var avail uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		n, _ := strconv.ParseUint(fs[1], 10, 64)
		switch fs[0] {
		case "MemTotal:":
			total = n * 1024
		case "MemAvailable:":
			avail = n * 1024
		}
	}
	if total == 0 {
		return 0, 0, errors.New("MemTotal not found in /proc/meminfo")
	}
	return total - avail, total, nil
}

func human(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
