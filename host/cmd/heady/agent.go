package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/load"
	"github.com/shirou/gopsutil/v3/mem"
	psnet "github.com/shirou/gopsutil/v3/net"
	"github.com/spf13/cobra"

	"github.com/hashicorp/hcl/v2"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/app"
	"github.com/heady-dev/heady/host/client"
	"github.com/heady-dev/heady/host/cluster"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/discovery/httpscan"
	"github.com/heady-dev/heady/host/pluginhost"
	"github.com/heady-dev/heady/host/registry"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/sdk"
)

type agentOpts struct {
	server, token, id, name, address string
	labels                           []string
	interval, ttl, scanEvery         time.Duration
	scanTargets                      []string
	scanPorts                        []int
	keep                             bool
	// worker: run leased step calls with the plugins in pluginDirs,
	// configured by the plugin blocks in policies.
	worker     bool
	policies   string
	pluginDirs []string
	slots      int
}

func agentCmd() *cobra.Command {
	var o agentOpts
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Register this machine as a node of a Heady host and send heartbeats",
		Long: `agent registers the machine it runs on as a node of the host at --server,
sends a heartbeat every --interval with its system metrics (cpu, memory,
load, disk), the services its local HTTP discovery finds and its
established TCP connections, and deregisters on SIGINT/SIGTERM. The host
marks the node suspect after --ttl without a heartbeat and dead after two.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runAgent(ctx, o, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
		},
	}
	host, _ := os.Hostname()
	f := cmd.Flags()
	f.StringVar(&o.server, "server", envOr("HEADY_ADDR", "http://127.0.0.1:3000"), "URL of the Heady host (HEADY_ADDR)")
	f.StringVar(&o.token, "token", os.Getenv("HEADY_TOKEN"), "operator token (HEADY_TOKEN)")
	f.StringVar(&o.name, "name", host, "node name")
	f.StringVar(&o.id, "id", "", "node id (default: the name)")
	f.StringVar(&o.address, "address", "", "address others reach this node at (default: the first non-loopback IPv4 address)")
	f.StringSliceVar(&o.labels, "labels", nil, "labels as k=v (repeat or separate with commas)")
	f.DurationVar(&o.interval, "interval", 5*time.Second, "heartbeat interval")
	f.DurationVar(&o.ttl, "ttl", 0, "heartbeat TTL the host applies (default 3×interval)")
	f.DurationVar(&o.scanEvery, "scan-every", time.Minute, "local discovery interval (0 disables)")
	f.StringSliceVar(&o.scanTargets, "scan-targets", []string{"127.0.0.1"}, "hosts or CIDRs of local discovery")
	f.IntSliceVar(&o.scanPorts, "scan-ports", httpscan.DefaultPorts, "ports of local discovery")
	f.BoolVar(&o.keep, "keep-registration", false, "do not deregister on exit")
	f.BoolVar(&o.worker, "worker", false, "also run workflow steps handed out by a cluster (steps pinned with node_labels match --labels)")
	f.StringVar(&o.policies, "policies", "./policies", "with --worker: policies whose plugin blocks configure the local plugins")
	f.StringSliceVar(&o.pluginDirs, "plugins", []string{"./bin/plugins"}, "with --worker: plugin directories")
	f.IntVar(&o.slots, "worker-slots", 8, "with --worker: steps run at once")
	return cmd
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func parseLabels(in []string) (map[string]string, error) {
	out := map[string]string{}
	for _, l := range in {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("agent: label %q: want k=v", l)
		}
		out[k] = v
	}
	return out, nil
}

func firstIPv4() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	return "127.0.0.1"
}

// agent is one running agent.
type agent struct {
	o   agentOpts
	c   *client.Client
	log *slog.Logger
	reg registry.Registration

	mu       sync.Mutex
	services []registry.Service
	scanned  bool
	conns    []string
}

func runAgent(ctx context.Context, o agentOpts, log *slog.Logger) error {
	if o.interval <= 0 {
		return errors.New("agent: --interval must be positive")
	}
	if o.ttl <= 0 {
		o.ttl = 3 * o.interval
	}
	labels, err := parseLabels(o.labels)
	if err != nil {
		return err
	}
	labels["os"], labels["arch"] = runtime.GOOS, runtime.GOARCH
	if o.id == "" {
		o.id = o.name
	}
	if o.address == "" {
		o.address = firstIPv4()
	}
	a := &agent{o: o, c: client.New(o.server, o.token), log: log,
		reg: registry.Registration{ID: o.id, Name: o.name, Address: o.address, Labels: labels, Version: app.Version,
			TTL: registry.Duration(o.ttl), Source: "agent"}}
	a.c.HTTP.Timeout = 10 * time.Second
	if err := a.register(ctx); err != nil {
		return err
	}
	log.Info("agent registered", "node", o.id, "server", o.server, "interval", o.interval, "ttl", o.ttl)
	if o.worker {
		stopWorker, err := a.startWorker(ctx, labels)
		if err != nil {
			return err
		}
		defer stopWorker()
	}
	if o.scanEvery > 0 {
		go a.scanLoop(ctx)
	}
	t := time.NewTicker(o.interval)
	defer t.Stop()
	for {
		a.heartbeat(ctx)
		select {
		case <-ctx.Done():
			if !o.keep {
				dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := a.c.Do(dctx, http.MethodDelete, "/registry/nodes/"+o.id, nil, nil)
				cancel()
				if err != nil {
					log.Warn("agent: deregister failed", "err", err)
				}
			}
			return nil
		case <-t.C:
		}
	}
}

// register retries until the host accepts the node or ctx ends.
func (a *agent) register(ctx context.Context) error {
	backoff := 500 * time.Millisecond
	for {
		var n registry.Node
		err := a.c.Do(ctx, http.MethodPost, "/registry/nodes", a.reg, &n)
		if err == nil {
			return nil
		}
		var ae *client.APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) {
			return fmt.Errorf("agent: register: %w", err)
		}
		a.log.Warn("agent: register failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

func (a *agent) heartbeat(ctx context.Context) {
	hb := registry.Heartbeat{Metrics: systemMetrics()}
	a.mu.Lock()
	if a.scanned {
		hb.Services = append([]registry.Service{}, a.services...)
	}
	hb.Connections = a.conns
	a.mu.Unlock()
	hctx, cancel := context.WithTimeout(ctx, a.o.interval+5*time.Second)
	defer cancel()
	err := a.c.Do(hctx, http.MethodPost, "/registry/nodes/"+a.o.id+"/heartbeat", hb, nil)
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		// The host forgot this node (deregistered, or a new data dir).
		a.log.Info("agent: node unknown to the host; registering again")
		err = a.register(hctx)
	}
	if err != nil && ctx.Err() == nil {
		a.log.Warn("agent: heartbeat failed", "err", err)
	}
}

func (a *agent) scanLoop(ctx context.Context) {
	sc := &httpscan.Scanner{}
	for {
		svcs, err := sc.Scan(ctx, sdk.Scope{Name: "agent", Targets: a.o.scanTargets, Ports: a.o.scanPorts})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			a.log.Warn("agent: local discovery failed", "err", err)
		} else {
			out := make([]registry.Service, 0, len(svcs))
			for _, s := range svcs {
				out = append(out, registry.Service{ID: s.ID, Name: s.Name, Kind: s.Kind, Address: s.Address, Port: s.Port,
					URL: s.URL, Labels: s.Labels, Metadata: s.Metadata, Health: s.Health})
			}
			conns := connections(ctx)
			a.mu.Lock()
			a.services, a.scanned, a.conns = out, true, conns
			a.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.o.scanEvery):
		}
	}
}

// systemMetrics samples cpu, memory, load and disk with gopsutil.
func systemMetrics() map[string]float64 {
	m := map[string]float64{}
	if p, err := cpu.Percent(200*time.Millisecond, false); err == nil && len(p) > 0 {
		m["cpu"] = round2(p[0])
	}
	if v, err := mem.VirtualMemory(); err == nil {
		m["memory"] = round2(v.UsedPercent)
		m["memory_total_bytes"] = float64(v.Total)
	}
	if l, err := load.Avg(); err == nil {
		m["load1"] = round2(l.Load1)
	}
	if d, err := disk.Usage("/"); err == nil {
		m["disk"] = round2(d.UsedPercent)
	}
	m["cpus"] = float64(runtime.NumCPU())
	return m
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// connections lists the remote ends of established TCP connections.
func connections(ctx context.Context) []string {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cs, err := psnet.ConnectionsWithContext(cctx, "tcp")
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range cs {
		if c.Status != "ESTABLISHED" || c.Raddr.IP == "" {
			continue
		}
		a := net.JoinHostPort(c.Raddr.IP, fmt.Sprint(c.Raddr.Port))
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	if len(out) > 256 {
		out = out[:256]
	}
	return out
}

// startWorker runs leased step calls from the cluster with local plugins.
func (a *agent) startWorker(ctx context.Context, labels map[string]string) (stop func(), err error) {
	pol, diags := config.Load(a.o.policies, config.LoadOptions{})
	if diags.HasErrors() {
		return nil, fmt.Errorf("agent: worker: policies: %s", diags.Error())
	}
	st, err := store.Open("", store.Options{InMemory: true})
	if err != nil {
		return nil, fmt.Errorf("agent: worker: %w", err)
	}
	m := pluginhost.New(pluginhost.Options{Dirs: a.o.pluginDirs, Logger: a.log, Store: st,
		EvalContext: func() *hcl.EvalContext { return pol.EvalContext(nil) }})
	if d := m.Apply(ctx, pol.Plugins); d.HasErrors() {
		_ = m.Close(context.Background())
		_ = st.Close()
		return nil, fmt.Errorf("agent: worker: plugins: %s", d.Error())
	}
	runner := app.PluginRunner(m)
	src := cluster.HTTPSource{Token: a.o.token, Client: &http.Client{Timeout: 30 * time.Second},
		Base: func() string { return strings.TrimRight(a.o.server, "/") + api.Prefix }}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cluster.RunWorker(wctx, src, cluster.Worker{ID: a.o.id, Labels: labels}, a.o.slots, time.Second, a.log,
			func(ctx context.Context, t cluster.Task) cluster.TaskResult { return app.RunLeasedCall(ctx, runner, t) })
	}()
	a.log.Info("agent: worker started", "slots", a.o.slots, "labels", labels)
	return func() {
		cancel()
		<-done
		_ = m.Close(context.Background())
		_ = st.Close()
	}, nil
}
