package metrics

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/load"
	"github.com/shirou/gopsutil/v3/mem"
	gnet "github.com/shirou/gopsutil/v3/net"
	"github.com/shirou/gopsutil/v3/process"
)

// Process is a process whose CPU and memory are sampled as PREFIX.cpu
// (percent of one core) and PREFIX.rss_bytes, where PREFIX is Series:
// service.NAME for a supervised service, process.heady for the host,
// process.plugin.NAME for a plugin.
type Process struct {
	Series string
	PID    int
}

// CollectorOptions configure a Collector.
type CollectorOptions struct {
	// Interval between samples (10 s when zero).
	Interval time.Duration
	// DiskPath is the path whose file system host.disk reports ("." when
	// empty): the data directory.
	DiskPath string
	// Processes lists the processes to sample at each tick (may be nil).
	Processes func() []Process
	// Extra returns further samples to record at each tick (may be nil).
	Extra  func(now time.Time) []Sample
	Logger *slog.Logger
}

// Collector samples the host (gopsutil), the API's request rate, the event
// rate and supervised processes into a Store at a fixed interval.
type Collector struct {
	st   *Store
	opts CollectorOptions

	requests atomic.Int64
	events   atomic.Int64

	mu        sync.Mutex
	last      time.Time
	lastReq   int64
	lastEv    int64
	lastNet   *gnet.IOCountersStat
	procs     map[int32]*process.Process
	cpu, memP float64
}

// NewCollector returns a collector writing into st.
func NewCollector(st *Store, opts CollectorOptions) *Collector {
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.DiskPath == "" {
		opts.DiskPath = "."
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Collector{st: st, opts: opts, procs: map[int32]*process.Process{}}
	_, _ = cpu.Percent(0, false) // prime the CPU delta
	return c
}

// CountRequest counts one API request toward api.requests_per_min.
func (c *Collector) CountRequest() { c.requests.Add(1) }

// CountEvents counts accepted events toward events.per_min.
func (c *Collector) CountEvents(n int) { c.events.Add(int64(n)) }

// Requests is the number of API requests counted so far.
func (c *Collector) Requests() int64 { return c.requests.Load() }

// Host returns the most recent host CPU and memory utilisation (percent).
func (c *Collector) Host() (cpuPct, memPct float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cpu, c.memP
}

// Run samples every interval until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		if err := c.Collect(ctx); err != nil && ctx.Err() == nil {
			c.opts.Logger.Warn("metrics: collect", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Collect takes one round of samples and records them. Rates are computed
// from the previous round; the first round reports no rates.
func (c *Collector) Collect(ctx context.Context) error {
	now := c.st.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Sample
	add := func(name string, v float64) { out = append(out, Sample{Series: name, Time: now, Value: v}) }
	if v, err := cpu.Percent(0, false); err == nil && len(v) > 0 {
		c.cpu = v[0]
		add("host.cpu", v[0])
	}
	if vm, err := mem.VirtualMemory(); err == nil {
		c.memP = vm.UsedPercent
		add("host.memory", vm.UsedPercent)
	}
	if du, err := disk.UsageWithContext(ctx, c.opts.DiskPath); err == nil {
		add("host.disk", du.UsedPercent)
	}
	if la, err := load.AvgWithContext(ctx); err == nil {
		add("host.load1", la.Load1)
	}
	reqs, evs := c.requests.Load(), c.events.Load()
	var netNow *gnet.IOCountersStat
	if ns, err := gnet.IOCountersWithContext(ctx, false); err == nil && len(ns) > 0 {
		netNow = &ns[0]
	}
	if !c.last.IsZero() {
		secs := now.Sub(c.last).Seconds()
		if secs > 0 {
			add("api.requests_per_min", float64(reqs-c.lastReq)*60/secs)
			add("events.per_min", float64(evs-c.lastEv)*60/secs)
			if netNow != nil && c.lastNet != nil {
				add("host.net.rx_bytes_per_s", float64(netNow.BytesRecv-c.lastNet.BytesRecv)/secs)
				add("host.net.tx_bytes_per_s", float64(netNow.BytesSent-c.lastNet.BytesSent)/secs)
			}
		}
	}
	c.last, c.lastReq, c.lastEv, c.lastNet = now, reqs, evs, netNow
	if c.opts.Processes != nil {
		seen := map[int32]bool{}
		for _, p := range c.opts.Processes() {
			if p.PID <= 0 || !ValidName(p.Series+".rss_bytes") {
				continue
			}
			pid := int32(p.PID)
			seen[pid] = true
			pr := c.procs[pid]
			if pr == nil {
				var err error
				if pr, err = process.NewProcessWithContext(ctx, pid); err != nil {
					continue
				}
				c.procs[pid] = pr
				_, _ = pr.PercentWithContext(ctx, 0) // prime
				continue
			}
			if v, err := pr.PercentWithContext(ctx, 0); err == nil {
				add(p.Series+".cpu", v)
			}
			if mi, err := pr.MemoryInfoWithContext(ctx); err == nil {
				add(p.Series+".rss_bytes", float64(mi.RSS))
			}
		}
		for pid := range c.procs {
			if !seen[pid] {
				delete(c.procs, pid)
			}
		}
	}
	if c.opts.Extra != nil {
		out = append(out, c.opts.Extra(now)...)
	}
	return c.st.Record(ctx, out)
}
