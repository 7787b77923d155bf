// Package discovery runs Heady's service discovery: it scans each
// configured source on its schedule and on demand, keeps the set of
// discovered services in the store, notices services that appear and
// disappear (service.discovered / service.lost events), gives each service
// a health check suited to what it is (its health endpoint, else a TCP
// connect) and keeps the history of every scan.
//
// A source is a discovery policy bound to a Scanner: the built-in
// protocols live in the subpackages httpscan, mcpscan and mdns, the local
// protocol (nodes of the registry) in this package, and any plugin
// component can serve as one. Every scan reports the source's full set: a
// service no source reports any more is lost. A failed scan changes
// nothing but its history record.
package discovery

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/sdk"
)

// Key spaces.
const (
	servicePrefix = store.SpaceDiscovery + "svc/"
	historyPrefix = store.SpaceDiscovery + "scan/"
)

// ErrUnknownSource is returned by Scan for a source that is not configured.
var ErrUnknownSource = errors.New("discovery: unknown source")

// Scanner scans one scope.
type Scanner interface {
	Scan(ctx context.Context, s sdk.Scope) ([]sdk.Service, error)
}

// ScannerFunc adapts a function to Scanner.
type ScannerFunc func(ctx context.Context, s sdk.Scope) ([]sdk.Service, error)

// Scan implements Scanner.
func (f ScannerFunc) Scan(ctx context.Context, s sdk.Scope) ([]sdk.Service, error) { return f(ctx, s) }

// Source is one configured discovery policy.
type Source struct {
	Name     string
	Protocol string
	// Interval between scheduled scans; zero disables the schedule.
	Interval time.Duration
	Scope    sdk.Scope
	Scanner  Scanner
	// Timeout bounds one scan (default 2m).
	Timeout time.Duration
}

// SourceInfo describes a configured source.
type SourceInfo struct {
	Name     string    `json:"name"`
	Protocol string    `json:"protocol"`
	Interval string    `json:"interval"`
	Targets  []string  `json:"targets,omitempty"`
	Ports    []int     `json:"ports,omitempty"`
	LastScan time.Time `json:"last_scan,omitzero"`
	NextScan time.Time `json:"next_scan,omitzero"`
}

// Service is a discovered service as the registry keeps it.
type Service struct {
	sdk.Service
	// Sources are the discovery sources currently reporting it.
	Sources   []string  `json:"sources"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// HealthURL is checked with GET (2xx is healthy); otherwise
	// TCPAddress with a connect.
	HealthURL       string    `json:"health_url,omitempty"`
	TCPAddress      string    `json:"tcp_address,omitempty"`
	HealthCheck     string    `json:"health_check"` // http | tcp | none
	HealthCheckedAt time.Time `json:"health_checked_at,omitzero"`
	HealthOutput    string    `json:"health_output,omitempty"`
}

// ScanRecord is one entry of the scan history.
type ScanRecord struct {
	ID         string    `json:"id"`
	Source     string    `json:"source"`
	Protocol   string    `json:"protocol"`
	Trigger    string    `json:"trigger"` // schedule | manual | agent | start
	Started    time.Time `json:"started"`
	DurationMS float64   `json:"duration_ms"`
	Found      int       `json:"found"`
	Discovered []string  `json:"discovered"`
	Lost       []string  `json:"lost"`
	Error      string    `json:"error,omitempty"`
}

// Options configure an Engine.
type Options struct {
	Logger *slog.Logger
	// Emit publishes service.discovered, service.lost, service.healthy
	// and service.unhealthy; nil drops them.
	Emit func(ctx context.Context, typ string, data map[string]any)
	// HealthInterval between health checks of discovered services
	// (default 30s, the guide's health monitoring period); negative
	// disables them.
	HealthInterval time.Duration
	// HealthTimeout bounds one check (default 2s).
	HealthTimeout time.Duration
	// HistoryLimit is how many scan records are kept (default 1000).
	HistoryLimit int
	Now          func() time.Time
}

// Engine is the discovery engine. It is safe for concurrent use.
type Engine struct {
	st   *store.Store
	opts Options
	http *http.Client

	mu       sync.RWMutex
	services map[string]*Service
	sources  map[string]*runSource
	histN    int

	// idMu guards entropy: monotonic ULIDs keep the history in order
	// within one millisecond.
	idMu    sync.Mutex
	entropy *ulid.MonotonicEntropy

	runMu  sync.Mutex
	runCtx context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type runSource struct {
	Source
	scanMu   sync.Mutex
	cancel   context.CancelFunc
	lastScan time.Time
	nextScan time.Time
}

// New loads the discovered services and the history size from the store.
func New(st *store.Store, opts Options) (*Engine, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HealthInterval == 0 {
		opts.HealthInterval = 30 * time.Second
	}
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = 2 * time.Second
	}
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = 1000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Engine{st: st, opts: opts, services: map[string]*Service{}, sources: map[string]*runSource{},
		entropy: ulid.Monotonic(rand.Reader, 0),
		http: &http.Client{Timeout: opts.HealthTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	err := st.Scan(store.ScanOptions{Prefix: servicePrefix}, func(key string, v []byte) (bool, error) {
		var s Service
		if err := store.Decode(v, &s); err != nil {
			opts.Logger.Warn("discovery: skip unreadable service", "key", key, "err", err)
			return true, nil
		}
		e.services[s.ID] = &s
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("discovery: load services: %w", err)
	}
	err = st.Scan(store.ScanOptions{Prefix: historyPrefix, KeysOnly: true}, func(string, []byte) (bool, error) {
		e.histN++
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("discovery: load history: %w", err)
	}
	return e, nil
}

// Start runs the schedules and the health checks until Stop.
func (e *Engine) Start(ctx context.Context) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	if e.cancel != nil {
		return
	}
	e.runCtx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	e.mu.RLock()
	for _, s := range e.sources {
		e.schedule(s, true)
	}
	e.mu.RUnlock()
	if e.opts.HealthInterval > 0 {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			t := time.NewTicker(e.opts.HealthInterval)
			defer t.Stop()
			for {
				select {
				case <-e.runCtx.Done():
					return
				case <-t.C:
					e.CheckHealth(e.runCtx)
				}
			}
		}()
	}
}

// Stop ends the schedules and waits for running scans.
func (e *Engine) Stop() {
	e.runMu.Lock()
	cancel := e.cancel
	e.runMu.Unlock()
	if cancel != nil {
		cancel()
	}
	e.wg.Wait()
}

// schedule starts the loop of one source; e.runMu must be held.
func (e *Engine) schedule(s *runSource, first bool) {
	if e.runCtx == nil || s.Interval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(e.runCtx)
	s.cancel = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		trigger := "start"
		if !first {
			trigger = "schedule"
		}
		for {
			e.scanSource(ctx, s, trigger)
			trigger = "schedule"
			e.mu.Lock()
			s.nextScan = e.opts.Now().Add(s.Interval)
			e.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.Interval):
			}
		}
	}()
}

// SetSources replaces the configured sources. Unchanged sources keep their
// schedule (a reload does not rescan them); the services only a removed
// source reported are lost.
func (e *Engine) SetSources(srcs []Source) {
	e.runMu.Lock()
	removed := e.setSources(srcs)
	e.runMu.Unlock()
	for _, o := range removed {
		e.Report(context.Background(), o.Name, o.Protocol, "reload", nil, nil)
	}
}

func (e *Engine) setSources(srcs []Source) []*runSource {
	e.mu.Lock()
	old := e.sources
	e.sources = map[string]*runSource{}
	var start []*runSource
	for _, s := range srcs {
		if s.Timeout <= 0 {
			s.Timeout = 2 * time.Minute
		}
		if o := old[s.Name]; o != nil && sameSource(o.Source, s) {
			o.Scanner = s.Scanner
			e.sources[s.Name] = o
			delete(old, s.Name)
			continue
		}
		rs := &runSource{Source: s}
		e.sources[s.Name] = rs
		start = append(start, rs)
	}
	e.mu.Unlock()
	var removed []*runSource
	for _, o := range old {
		if o.cancel != nil {
			o.cancel()
		}
		if _, still := e.sources[o.Name]; !still {
			removed = append(removed, o)
		}
	}
	for _, s := range start {
		e.schedule(s, true)
	}
	return removed
}

func sameSource(a, b Source) bool {
	return a.Protocol == b.Protocol && a.Interval == b.Interval && a.Timeout == b.Timeout &&
		slices.Equal(a.Scope.Targets, b.Scope.Targets) && slices.Equal(a.Scope.Ports, b.Scope.Ports) &&
		fmt.Sprint(a.Scope.Config) == fmt.Sprint(b.Scope.Config)
}

// Sources describes the configured sources.
func (e *Engine) Sources() []SourceInfo {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]SourceInfo, 0, len(e.sources))
	for _, s := range e.sources {
		out = append(out, SourceInfo{Name: s.Name, Protocol: s.Protocol, Interval: s.Interval.String(),
			Targets: s.Scope.Targets, Ports: s.Scope.Ports, LastScan: s.lastScan, NextScan: s.nextScan})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Scan scans one source now (source "" scans them all, concurrently) and
// returns the history records of the scans.
func (e *Engine) Scan(ctx context.Context, source, trigger string) ([]ScanRecord, error) {
	e.mu.RLock()
	var srcs []*runSource
	for _, s := range e.sources {
		if source == "" || s.Name == source {
			srcs = append(srcs, s)
		}
	}
	e.mu.RUnlock()
	if source != "" && len(srcs) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSource, source)
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i].Name < srcs[j].Name })
	out := make([]ScanRecord, len(srcs))
	var wg sync.WaitGroup
	for i, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = e.scanSource(ctx, s, trigger)
		}()
	}
	wg.Wait()
	return out, nil
}

func (e *Engine) scanSource(ctx context.Context, s *runSource, trigger string) ScanRecord {
	s.scanMu.Lock()
	defer s.scanMu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	start := e.opts.Now()
	scope := s.Scope
	scope.Name = s.Name
	var svcs []sdk.Service
	var err error
	if s.Scanner == nil {
		err = fmt.Errorf("protocol %q has no scanner", s.Protocol)
	} else {
		svcs, err = s.Scanner.Scan(sctx, scope)
	}
	if ctx.Err() != nil && err != nil {
		return ScanRecord{Source: s.Name, Protocol: s.Protocol, Trigger: trigger, Started: start, Error: err.Error()}
	}
	e.mu.Lock()
	s.lastScan = start
	e.mu.Unlock()
	rec := e.report(ctx, s.Name, s.Protocol, trigger, start, svcs, err)
	if err != nil {
		e.opts.Logger.Warn("discovery scan failed", "source", s.Name, "protocol", s.Protocol, "err", err)
	} else {
		e.opts.Logger.Debug("discovery scan", "source", s.Name, "found", rec.Found, "new", len(rec.Discovered), "lost", len(rec.Lost))
	}
	return rec
}

// Report records the full set of services a source sees now (a scan, or
// what an agent reported). Services the source reported before and not
// now are lost unless another source still reports them. A non-nil
// scanErr is recorded and changes no service.
func (e *Engine) Report(ctx context.Context, source, protocol, trigger string, svcs []sdk.Service, scanErr error) ScanRecord {
	return e.report(ctx, source, protocol, trigger, e.opts.Now(), svcs, scanErr)
}

func (e *Engine) report(ctx context.Context, source, protocol, trigger string, start time.Time, svcs []sdk.Service, scanErr error) ScanRecord {
	now := e.opts.Now()
	e.idMu.Lock()
	id := ulid.MustNew(ulid.Timestamp(now), e.entropy).String()
	e.idMu.Unlock()
	rec := ScanRecord{ID: id, Source: source, Protocol: protocol,
		Trigger: trigger, Started: start, DurationMS: float64(now.Sub(start).Microseconds()) / 1000,
		Found: len(svcs), Discovered: []string{}, Lost: []string{}}
	var ops []store.Op
	type ev struct {
		typ string
		svc Service
	}
	var evs []ev
	if scanErr != nil {
		rec.Error = scanErr.Error()
		rec.Found = 0
	} else {
		seen := map[string]bool{}
		e.mu.Lock()
		for _, in := range svcs {
			if in.ID == "" || seen[in.ID] {
				continue
			}
			seen[in.ID] = true
			cur := e.services[in.ID]
			isNew := cur == nil
			if isNew {
				cur = &Service{FirstSeen: now}
			}
			health, checked, output := cur.Health, cur.HealthCheckedAt, cur.HealthOutput
			cur.Service = in
			if !checked.IsZero() {
				// Our own check is more recent knowledge than a scan's guess.
				cur.Health, cur.HealthCheckedAt, cur.HealthOutput = health, checked, output
			} else if cur.Health == "" {
				cur.Health = "unknown"
			}
			cur.LastSeen = now
			if !slices.Contains(cur.Sources, source) {
				cur.Sources = append(cur.Sources, source)
				sort.Strings(cur.Sources)
			}
			configureCheck(cur)
			e.services[in.ID] = cur
			if b, err := store.Encode(cur); err == nil {
				ops = append(ops, store.Put(servicePrefix+cur.ID, b))
			}
			if isNew {
				rec.Discovered = append(rec.Discovered, cur.ID)
				evs = append(evs, ev{"service.discovered", cloneService(cur)})
			}
		}
		for id, cur := range e.services {
			if seen[id] || !slices.Contains(cur.Sources, source) {
				continue
			}
			cur.Sources = slices.DeleteFunc(cur.Sources, func(s string) bool { return s == source })
			if len(cur.Sources) > 0 {
				if b, err := store.Encode(cur); err == nil {
					ops = append(ops, store.Put(servicePrefix+cur.ID, b))
				}
				continue
			}
			delete(e.services, id)
			ops = append(ops, store.Delete(servicePrefix+id))
			rec.Lost = append(rec.Lost, id)
			evs = append(evs, ev{"service.lost", cloneService(cur)})
		}
		e.mu.Unlock()
		sort.Strings(rec.Discovered)
		sort.Strings(rec.Lost)
	}
	if b, err := store.Encode(&rec); err == nil {
		ops = append(ops, store.Put(historyPrefix+rec.ID, b))
	}
	if err := e.st.Apply(context.WithoutCancel(ctx), ops...); err != nil {
		e.opts.Logger.Error("discovery: persist scan", "source", source, "err", err)
	}
	e.pruneHistory(ctx)
	for _, x := range evs {
		e.emit(ctx, x.typ, x.svc, map[string]any{"source": source})
	}
	return rec
}

func (e *Engine) pruneHistory(ctx context.Context) {
	e.mu.Lock()
	e.histN++
	extra := e.histN - e.opts.HistoryLimit
	e.mu.Unlock()
	if extra <= 0 {
		return
	}
	var ops []store.Op
	_ = e.st.Scan(store.ScanOptions{Prefix: historyPrefix, KeysOnly: true, Limit: extra}, func(k string, _ []byte) (bool, error) {
		ops = append(ops, store.Delete(k))
		return true, nil
	})
	if err := e.st.Apply(context.WithoutCancel(ctx), ops...); err == nil {
		e.mu.Lock()
		e.histN -= len(ops)
		e.mu.Unlock()
	}
}

func (e *Engine) emit(ctx context.Context, typ string, s Service, extra map[string]any) {
	if e.opts.Emit == nil {
		return
	}
	data := map[string]any{"id": s.ID, "name": s.Name, "kind": s.Kind, "address": s.Address, "port": s.Port,
		"url": s.URL, "protocol": s.Protocol, "health": s.Health, "health_url": s.HealthURL, "tcp_address": s.TCPAddress}
	labels := map[string]any{}
	for k, v := range s.Labels {
		labels[k] = v
	}
	data["labels"] = labels
	maps.Copy(data, extra)
	e.opts.Emit(ctx, typ, data)
}

// configureCheck picks the health check suited to a service: its health
// endpoint when it has one, else a TCP connect to its address.
func configureCheck(s *Service) {
	s.HealthURL, s.TCPAddress = "", ""
	if v, ok := s.Metadata["health_url"].(string); ok && v != "" {
		s.HealthURL = v
	}
	if v, ok := s.Metadata["tcp_address"].(string); ok && v != "" {
		s.TCPAddress = v
	} else if s.Address != "" && s.Port > 0 {
		s.TCPAddress = net.JoinHostPort(s.Address, strconv.Itoa(s.Port))
	}
	switch {
	case s.HealthURL != "":
		s.HealthCheck = "http"
	case s.TCPAddress != "":
		s.HealthCheck = "tcp"
	default:
		s.HealthCheck = "none"
	}
}

func cloneService(s *Service) Service {
	c := *s
	c.Sources = slices.Clone(s.Sources)
	c.Labels = maps.Clone(s.Labels)
	return c
}

// Services returns every discovered service sorted by id.
func (e *Engine) Services() []Service {
	e.mu.RLock()
	out := make([]Service, 0, len(e.services))
	for _, s := range e.services {
		out = append(out, cloneService(s))
	}
	e.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Count is the number of discovered services.
func (e *Engine) Count() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.services)
}

// Get returns one discovered service.
func (e *Engine) Get(id string) (Service, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, ok := e.services[id]
	if !ok {
		return Service{}, false
	}
	return cloneService(s), true
}

// History returns scan records newest first, limit per page; cursor is the
// next_cursor of the previous page.
func (e *Engine) History(limit int, cursor string) ([]ScanRecord, string, error) {
	if limit <= 0 {
		limit = 50
	}
	out := []ScanRecord{}
	after := ""
	if cursor != "" {
		after = historyPrefix + cursor
	}
	err := e.st.Scan(store.ScanOptions{Prefix: historyPrefix, Reverse: true, After: after, Limit: limit + 1}, func(_ string, v []byte) (bool, error) {
		var r ScanRecord
		if err := store.Decode(v, &r); err != nil {
			return true, nil
		}
		out = append(out, r)
		return true, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("discovery: history: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// CheckHealth runs one round of health checks of every discovered service
// (concurrently, bounded) and records changes.
func (e *Engine) CheckHealth(ctx context.Context) {
	svcs := e.Services()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, s := range svcs {
		if s.HealthCheck == "none" || s.HealthCheck == "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			health, out := e.check(ctx, s)
			e.recordHealth(ctx, s.ID, health, out)
		}()
	}
	wg.Wait()
}

func (e *Engine) check(ctx context.Context, s Service) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.HealthTimeout)
	defer cancel()
	if s.HealthURL != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HealthURL, nil)
		if err != nil {
			return "unhealthy", err.Error()
		}
		req.Header.Set("User-Agent", "heady-health/1")
		res, err := e.http.Do(req)
		if err != nil {
			return "unhealthy", err.Error()
		}
		res.Body.Close()
		if res.StatusCode >= 200 && res.StatusCode < 300 {
			return "healthy", "GET " + s.HealthURL + ": " + res.Status
		}
		return "unhealthy", "GET " + s.HealthURL + ": " + res.Status
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.TCPAddress)
	if err != nil {
		return "unhealthy", err.Error()
	}
	c.Close()
	return "healthy", "tcp connect " + s.TCPAddress + ": ok"
}

func (e *Engine) recordHealth(ctx context.Context, id, health, output string) {
	now := e.opts.Now()
	e.mu.Lock()
	cur := e.services[id]
	if cur == nil {
		e.mu.Unlock()
		return
	}
	changed := cur.Health != health
	first := cur.HealthCheckedAt.IsZero()
	cur.Health, cur.HealthOutput, cur.HealthCheckedAt = health, output, now
	cp := cloneService(cur)
	e.mu.Unlock()
	if !changed && !first {
		return // unchanged: keep it in memory only, no write per check
	}
	if b, err := store.Encode(&cp); err == nil {
		if err := e.st.Apply(context.WithoutCancel(ctx), store.Put(servicePrefix+id, b)); err != nil {
			e.opts.Logger.Error("discovery: persist health", "service", id, "err", err)
		}
	}
	if changed {
		e.emit(ctx, "service."+health, cp, map[string]any{"output": output})
	}
}
