package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
)

// poolScaler is scale.process_pool: one pool of replicas per target (the
// scaling policy's name).
type poolScaler struct {
	host sdk.Host

	mu     sync.Mutex
	pools  map[string]*pool
	closed bool
}

func newPoolScaler() *poolScaler { return &poolScaler{pools: map[string]*pool{}} }

// Init keeps the host for node registration and metric reports.
func (s *poolScaler) Init(h sdk.Host) { s.host = h }

// Configure accepts the empty component configuration.
func (s *poolScaler) Configure(context.Context, map[string]any) error { return nil }

// poolConfig is a target's backend block.
type poolConfig struct {
	command        []string
	env            map[string]string
	dir            string
	portMin        int
	portMax        int
	healthPath     string
	healthTimeout  time.Duration
	drainTimeout   time.Duration
	proxy          string
	rateWindow     time.Duration
	reportInterval time.Duration
	labels         map[string]string
}

func parsePoolConfig(name string, in map[string]any) (poolConfig, error) {
	c, err := pluginutil.Inputs("plugin scale: process_pool "+name, poolSpec.Inputs, in)
	if err != nil {
		return poolConfig{}, err
	}
	pc := poolConfig{
		command: c.Strings("command"), env: c.StringMap("env"), dir: c.String("dir"),
		portMin: c.Int("port_min"), portMax: c.Int("port_max"), healthPath: c.String("health_path"),
		healthTimeout: c.Duration("health_timeout"), drainTimeout: c.Duration("drain_timeout"),
		proxy: c.String("proxy"), rateWindow: c.Duration("rate_window"), reportInterval: c.Duration("report_interval"),
		labels: c.StringMap("labels"),
	}
	switch {
	case len(pc.command) == 0:
		return pc, pluginutil.Invalid("plugin scale: process_pool %s: command is required (or service, resolved by the host)", name)
	case pc.portMin <= 0 || pc.portMax > 65535 || pc.portMin > pc.portMax:
		return pc, pluginutil.Invalid("plugin scale: process_pool %s: port range %d-%d is invalid", name, pc.portMin, pc.portMax)
	case pc.healthPath != "" && !strings.HasPrefix(pc.healthPath, "/"):
		return pc, pluginutil.Invalid("plugin scale: process_pool %s: health_path %q must start with /", name, pc.healthPath)
	}
	if pc.rateWindow <= 0 {
		pc.rateWindow = time.Minute
	}
	if pc.reportInterval <= 0 {
		pc.reportInterval = 10 * time.Second
	}
	return pc, nil
}

func (s *poolScaler) pool(t sdk.Target) (*pool, error) {
	cfg, err := parsePoolConfig(t.Name, t.Config)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &sdk.Error{Code: sdk.CodeUnavailable, Message: "plugin scale: process_pool: closed"}
	}
	p := s.pools[t.Name]
	if p == nil {
		p = &pool{name: t.Name, host: s.host, replicas: map[string]*replica{}, reserved: map[int]bool{}}
		s.pools[t.Name] = p
	}
	if err := p.configure(cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// Current reports the live replicas.
func (s *poolScaler) Current(ctx context.Context, t sdk.Target) (int, error) {
	p, err := s.pool(t)
	if err != nil {
		return 0, err
	}
	return p.reap(ctx), nil
}

// Scale starts or drains replicas until desired are alive.
func (s *poolScaler) Scale(ctx context.Context, t sdk.Target, desired int) (sdk.ScaleResult, error) {
	if desired < 0 {
		return sdk.ScaleResult{}, pluginutil.Invalid("plugin scale: process_pool %s: desired count %d is negative", t.Name, desired)
	}
	p, err := s.pool(t)
	if err != nil {
		return sdk.ScaleResult{}, err
	}
	return p.scale(ctx, desired)
}

// Close drains every pool and stops the proxies.
func (s *poolScaler) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	pools := s.pools
	s.pools = map[string]*pool{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range pools {
		wg.Add(1)
		go func() { defer wg.Done(); p.shutdown(ctx) }()
	}
	wg.Wait()
	return nil
}

// pool is the replicas of one target.
type pool struct {
	name string
	host sdk.Host

	scaleMu sync.Mutex // one scale operation at a time

	mu       sync.Mutex
	cfg      poolConfig
	replicas map[string]*replica
	reserved map[int]bool // ports being started on
	seq      int
	proxy    *proxy
}

type replica struct {
	id      string
	port    int
	cmd     *exec.Cmd
	done    chan struct{}
	started time.Time
	ready   atomic.Bool
	drain   atomic.Bool
}

func (r *replica) alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

func (p *pool) configure(cfg poolConfig) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg = cfg
	if p.proxy != nil && p.proxy.addr != cfg.proxy {
		p.proxy.close()
		p.proxy = nil
	}
	if p.proxy == nil && cfg.proxy != "" {
		px, err := startProxy(p, cfg)
		if err != nil {
			return &sdk.Error{Code: sdk.CodeInvalid, Message: fmt.Sprintf("plugin scale: process_pool %s: proxy: %v", p.name, err)}
		}
		p.proxy = px
	}
	if p.proxy != nil {
		p.proxy.setWindow(cfg.rateWindow, cfg.reportInterval)
	}
	return nil
}

// reap forgets replicas that exited (deregistering them) and returns the
// number still alive and not draining.
func (p *pool) reap(ctx context.Context) int {
	p.mu.Lock()
	var gone []*replica
	n := 0
	for id, r := range p.replicas {
		switch {
		case !r.alive():
			gone = append(gone, r)
			delete(p.replicas, id)
		case !r.drain.Load():
			n++
		}
	}
	p.mu.Unlock()
	for _, r := range gone {
		p.emit(ctx, "node.deregistered", r, "exited")
	}
	return n
}

func (p *pool) live() []*replica {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*replica, 0, len(p.replicas))
	for _, r := range p.replicas {
		if r.alive() && !r.drain.Load() {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].started.Before(out[j].started) })
	return out
}

func (p *pool) scale(ctx context.Context, desired int) (sdk.ScaleResult, error) {
	p.scaleMu.Lock()
	defer p.scaleMu.Unlock()
	cur := p.reap(ctx)
	switch {
	case desired > cur:
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			ports []string
			errs  []error
		)
		for i := 0; i < desired-cur; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := p.start(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				ports = append(ports, strconv.Itoa(r.port))
			}()
		}
		wg.Wait()
		sort.Strings(ports)
		n := len(p.live())
		msg := fmt.Sprintf("started %d replica(s) on port(s) %s; %d alive", len(ports), strings.Join(ports, ", "), n)
		if len(errs) > 0 {
			return sdk.ScaleResult{Current: n, Message: msg}, fmt.Errorf("plugin scale: process_pool %s: %w", p.name, errors.Join(errs...))
		}
		return sdk.ScaleResult{Current: n, Message: msg}, nil
	case desired < cur:
		lv := p.live()
		victims := lv[desired:] // the newest go first
		var wg sync.WaitGroup
		for _, r := range victims {
			r.drain.Store(true)
			wg.Add(1)
			go func() { defer wg.Done(); p.stop(ctx, r) }()
		}
		wg.Wait()
		ids := make([]string, 0, len(victims))
		for _, r := range victims {
			ids = append(ids, r.id)
		}
		n := p.reap(ctx)
		return sdk.ScaleResult{Current: n, Message: fmt.Sprintf("drained %s; %d alive", strings.Join(ids, ", "), n)}, nil
	}
	return sdk.ScaleResult{Current: cur, Message: fmt.Sprintf("%d alive", cur)}, nil
}

// start launches one replica on a free port and waits until it is healthy.
func (p *pool) start(ctx context.Context) (*replica, error) {
	// Pick the port under the lock: replicas start concurrently.
	p.mu.Lock()
	cfg := p.cfg
	p.seq++
	id := fmt.Sprintf("%s-%d", p.name, p.seq)
	used := map[int]bool{}
	for _, r := range p.replicas {
		used[r.port] = true
	}
	for port := range p.reserved {
		used[port] = true
	}
	port, err := freePort(cfg.portMin, cfg.portMax, used)
	if err == nil {
		p.reserved[port] = true
	}
	p.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	defer func() {
		p.mu.Lock()
		delete(p.reserved, port)
		p.mu.Unlock()
	}()
	ps := strconv.Itoa(port)
	argv := make([]string, len(cfg.command))
	for i, a := range cfg.command {
		argv[i] = strings.ReplaceAll(strings.ReplaceAll(a, "{port}", ps), "$PORT", ps)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = cfg.dir
	cmd.Env = append(os.Environ(), "PORT="+ps, "HEADY_REPLICA="+id, "HEADY_POOL="+p.name)
	for k, v := range cfg.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr // forwarded to the host's log with the plugin's name
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", id, argv[0], err)
	}
	r := &replica{id: id, port: port, cmd: cmd, done: make(chan struct{}), started: time.Now()}
	go func() { _ = cmd.Wait(); close(r.done) }()
	p.mu.Lock()
	p.replicas[id] = r
	p.mu.Unlock()
	if err := waitHealthy(ctx, r, cfg); err != nil {
		r.drain.Store(true)
		killGroup(cmd)
		<-r.done
		p.mu.Lock()
		delete(p.replicas, id)
		p.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	r.ready.Store(true)
	p.emit(ctx, "node.registered", r, "")
	return r, nil
}

// stop drains a replica: SIGTERM to its process group, then SIGKILL after
// the grace period.
func (p *pool) stop(ctx context.Context, r *replica) {
	p.mu.Lock()
	grace := p.cfg.drainTimeout
	p.mu.Unlock()
	r.ready.Store(false)
	signalGroup(r.cmd, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
		killGroup(r.cmd)
		<-r.done
	}
	killGroup(r.cmd) // whatever else is left of its group
	p.mu.Lock()
	delete(p.replicas, r.id)
	p.mu.Unlock()
	p.emit(context.WithoutCancel(ctx), "node.deregistered", r, "drained")
}

func (p *pool) shutdown(ctx context.Context) {
	p.scaleMu.Lock()
	defer p.scaleMu.Unlock()
	p.mu.Lock()
	px := p.proxy
	p.proxy = nil
	p.mu.Unlock()
	if px != nil {
		px.close()
	}
	var wg sync.WaitGroup
	for _, r := range p.live() {
		r.drain.Store(true)
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(ctx, r) }()
	}
	wg.Wait()
}

func (p *pool) emit(ctx context.Context, typ string, r *replica, reason string) {
	if p.host == nil {
		return
	}
	p.mu.Lock()
	labels := map[string]any{"pool": p.name, "scaler": "process_pool", "pid": strconv.Itoa(r.cmd.Process.Pid)}
	for k, v := range p.cfg.labels {
		labels[k] = v
	}
	p.mu.Unlock()
	data := map[string]any{"id": r.id, "address": net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)), "labels": labels}
	if reason != "" {
		data["reason"] = reason
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.host.EmitEvent(ectx, typ, data); err != nil {
		sdk.Logger().Warn("node event not delivered", "type", typ, "replica", r.id, "err", err)
	}
}

// freePort returns a port of [lo, hi] that is not in used and can be bound
// on loopback now.
func freePort(lo, hi int, used map[int]bool) (int, error) {
	for port := lo; port <= hi; port++ {
		if used[port] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d", lo, hi)
}

// waitHealthy polls the replica until its port accepts connections (and its
// health path answers below 500) or the health timeout passes.
func waitHealthy(ctx context.Context, r *replica, cfg poolConfig) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.healthTimeout)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok := false
		if c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond); err == nil {
			c.Close()
			ok = true
			if cfg.healthPath != "" {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+cfg.healthPath, nil)
				resp, err := client.Do(req)
				ok = err == nil && resp.StatusCode < 500
				if err == nil {
					resp.Body.Close()
				}
			}
		}
		if ok {
			return nil
		}
		select {
		case <-r.done:
			return fmt.Errorf("exited before becoming healthy (%v)", r.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("not healthy on %s within %s", addr, cfg.healthTimeout)
		case <-tick.C:
		}
	}
}

// proxy is a round-robin HTTP proxy in front of a pool's ready replicas
// that counts requests per second and reports the rate.
type proxy struct {
	addr string
	p    *pool
	srv  *http.Server
	ln   net.Listener
	next atomic.Uint64

	mu       sync.Mutex
	buckets  map[int64]int64 // unix second → requests
	window   time.Duration
	interval time.Duration
	reset    chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

func startProxy(p *pool, cfg poolConfig) (*proxy, error) {
	ln, err := net.Listen("tcp", cfg.proxy)
	if err != nil {
		return nil, err
	}
	px := &proxy{addr: cfg.proxy, p: p, ln: ln, buckets: map[int64]int64{}, window: cfg.rateWindow, interval: cfg.reportInterval,
		reset: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u, _ := pr.In.Context().Value(targetKey{}).(*url.URL)
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "replica unavailable: "+err.Error(), http.StatusBadGateway)
		},
	}
	px.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		px.count()
		ready := px.ready()
		if len(ready) == 0 {
			http.Error(w, "no replica is ready", http.StatusServiceUnavailable)
			return
		}
		rep := ready[int(px.next.Add(1)-1)%len(ready)]
		u := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(rep.port))}
		rp.ServeHTTP(w, r.WithContext(contextWithTarget(r.Context(), u)))
	})}
	go func() { _ = px.srv.Serve(ln) }()
	go px.report()
	return px, nil
}

type targetKey struct{}

func contextWithTarget(ctx context.Context, u *url.URL) context.Context {
	return context.WithValue(ctx, targetKey{}, u)
}

func (px *proxy) ready() []*replica {
	var out []*replica
	for _, r := range px.p.live() {
		if r.ready.Load() {
			out = append(out, r)
		}
	}
	return out
}

func (px *proxy) count() {
	sec := time.Now().Unix()
	px.mu.Lock()
	px.buckets[sec]++
	px.mu.Unlock()
}

// rate is the requests per minute over the window.
func (px *proxy) rate(now time.Time) float64 {
	px.mu.Lock()
	defer px.mu.Unlock()
	secs := int64(px.window / time.Second)
	if secs < 1 {
		secs = 1
	}
	from := now.Unix() - secs
	var n int64
	for s, c := range px.buckets {
		if s <= from {
			delete(px.buckets, s)
			continue
		}
		n += c
	}
	return float64(n) * 60 / float64(secs)
}

func (px *proxy) setWindow(window, interval time.Duration) {
	px.mu.Lock()
	changed := px.interval != interval
	px.window, px.interval = window, interval
	px.mu.Unlock()
	if changed {
		select {
		case px.reset <- struct{}{}:
		default:
		}
	}
}

// report sends service.POLICY.requests_per_min every interval as a
// metric.sample event.
func (px *proxy) report() {
	defer close(px.done)
	px.mu.Lock()
	every := px.interval
	px.mu.Unlock()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-px.stop:
			return
		case <-px.reset:
			px.mu.Lock()
			t.Reset(px.interval)
			px.mu.Unlock()
		case now := <-t.C:
			if px.p.host == nil {
				continue
			}
			data := map[string]any{"samples": []any{
				map[string]any{"series": "service." + px.p.name + ".requests_per_min", "value": px.rate(now)},
				map[string]any{"series": "service." + px.p.name + ".replicas", "value": float64(len(px.ready()))},
			}}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			if err := px.p.host.EmitEvent(ctx, "metric.sample", data); err != nil {
				sdk.Logger().Warn("metric report not delivered", "pool", px.p.name, "err", err)
			}
			cancel()
		}
	}
}

func (px *proxy) close() {
	close(px.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = px.srv.Shutdown(ctx)
	<-px.done
}

var (
	_ sdk.Scaler      = (*poolScaler)(nil)
	_ sdk.Initializer = (*poolScaler)(nil)
)
