// Package app is the heady daemon: it loads the policies, opens the store,
// starts every subsystem in order, serves the API, reloads policies on
// change, and shuts everything down cleanly on a signal.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/auth"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/maintenance"
	"github.com/heady-dev/heady/host/metrics"
	"github.com/heady-dev/heady/host/pluginhost"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/host/workflow"
)

// Version is set at build time (-ldflags "-X .../host/app.Version=...").
var Version = "0.1.0-dev"

// Options are the daemon's command-line settings; set fields override the
// policy's host block.
type Options struct {
	PoliciesDir string
	DataDir     string
	Listen      string
	PluginDirs  []string
	// Vars override policy variable defaults (name → HCL literal value).
	Vars map[string]string
	// Out receives the start-up lines (stdout by default).
	Out io.Writer
	// LogOut receives structured logs (stderr by default).
	LogOut io.Writer
	// BootstrapToken is HEADY_BOOTSTRAP_TOKEN.
	BootstrapToken string
	// WatchDebounce for policy file changes (default 300ms).
	WatchDebounce time.Duration
	// Cluster mode (flags override the policy's cluster block): Server
	// enables it; Join lists other servers' cluster addresses; ClusterBind
	// is this server's cluster address; ClusterKey is HEADY_CLUSTER_KEY.
	Server      bool
	Join        []string
	ClusterBind string
	ClusterKey  string
	Bootstrap   bool
}

// Host is a running daemon.
type Host struct {
	opts   Options
	log    *slog.Logger
	out    io.Writer
	store  *store.Store
	auth   *auth.Service
	lim    *auth.Limiter
	audit  *audit.Log
	api    *api.Server
	ln     net.Listener
	policy atomic.Pointer[config.Policy]

	reloadMu   sync.Mutex
	lastReload atomic.Pointer[api.ReloadResult]
	sampler    *sampler
	started    time.Time

	plugins    *pluginhost.Manager
	engine     *workflow.Engine
	maint      maintainer
	metrics    *metrics.Store
	subsystems []Subsystem
	apiSvc     *api.Services
	maintMu    sync.RWMutex
	maintOps   map[string]MaintenanceFunc

	wg     sync.WaitGroup
	cancel context.CancelFunc

	// cluster is nil in single-server mode (see cluster.go).
	cluster *clusterState
	// engineMu guards engine and audit, which a cluster server replaces
	// when it becomes leader again (eng, auditLog).
	engineMu sync.RWMutex
}

// maintainer performs host-side maintenance operations for plugins.
type maintainer interface {
	Do(ctx context.Context, op string, args map[string]any) (map[string]any, error)
}

// StartupError carries policy diagnostics that stopped the start-up.
type StartupError struct {
	Diags hcl.Diagnostics
	Files []config.SourceFile
}

func (e *StartupError) Error() string {
	return fmt.Sprintf("policies are invalid (%d errors)", len(e.Diags.Errs()))
}

// Start brings the daemon up and returns once the API is listening.
func Start(ctx context.Context, opts Options) (*Host, error) {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.LogOut == nil {
		opts.LogOut = os.Stderr
	}
	if opts.PoliciesDir == "" {
		opts.PoliciesDir = "./policies"
	}
	if opts.WatchDebounce <= 0 {
		opts.WatchDebounce = 300 * time.Millisecond
	}
	h := &Host{opts: opts, out: opts.Out, started: time.Now()}

	pol, diags := h.load()
	if diags.HasErrors() {
		return nil, &StartupError{Diags: diags, Files: filesOf(pol)}
	}
	hc := pol.Host
	h.applyFlags(&hc)
	h.log = newLogger(opts.LogOut, hc.LogLevel, hc.LogFormat)
	h.policy.Store(pol)
	h.linef("✅ Policies loaded from %s: %d files, version %s", opts.PoliciesDir, len(pol.Files), short(pol.Version))

	st, err := store.Open(hc.DataDir, store.Options{SyncWrites: hc.SyncWrites, Logger: h.log})
	if err != nil {
		return nil, err
	}
	h.store = st
	h.linef("✅ Database initialized successfully (%s, sync_writes=%v)", filepath.Join(hc.DataDir, "db"), hc.SyncWrites)

	fail := func(err error) (*Host, error) {
		h.closeStore()
		return nil, err
	}
	if err := h.startCluster(ctx, pol, hc); err != nil {
		return fail(err)
	}
	h.audit, err = audit.Open(ctx, st, audit.Options{Logger: h.log})
	if err != nil {
		return fail(err)
	}
	h.metrics, err = metrics.Open(ctx, st, metrics.Options{Retention: hc.MetricsRetention})
	if err != nil {
		return fail(err)
	}
	h.auth = auth.New(st, auth.Options{})
	plain, created, err := h.auth.Bootstrap(ctx, hc.DataDir, opts.BootstrapToken)
	if err != nil {
		return fail(err)
	}
	if created {
		if opts.BootstrapToken != "" {
			h.linef("🔑 Admin token taken from HEADY_BOOTSTRAP_TOKEN")
		} else {
			h.linef("🔑 Admin token (shown once, also in %s): %s", filepath.Join(hc.DataDir, "bootstrap-token"), plain)
		}
		h.systemAudit(ctx, "token.bootstrap", "token", "bootstrap", "success", nil)
	}
	a := pol.Auth
	h.lim = auth.NewLimiter(a.LockoutThreshold, a.LockoutWindow, a.LockoutDuration, time.Now)
	h.linef("✅ Audit trail ready (%s)", h.auditSummary(ctx))

	runCtx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.sampler = newSampler()

	h.plugins = pluginhost.New(pluginhost.Options{
		Dirs: hc.PluginDirs, Logger: h.log, Store: st, Services: hostServices{h}, Recorder: pluginRecorder{h},
		EvalContext: func() *hcl.EvalContext { return h.policy.Load().EvalContext(nil) },
	})
	diags = h.plugins.Apply(ctx, pol.Plugins)
	diags = append(diags, h.plugins.ValidateUses(pol)...)
	if diags.HasErrors() {
		cancel()
		_ = h.plugins.Close(ctx)
		h.closeStore()
		return nil, &StartupError{Diags: diags, Files: pol.Files}
	}
	bins, _ := h.plugins.Discover(ctx)
	h.linef("✅ Plugin host ready: %d plugins in %s", len(bins), strings.Join(hc.PluginDirs, ", "))

	h.engine = h.newEngine(hc, pol)
	h.maint = &maintenance.Handler{Store: st, DataDir: hc.DataDir, Logger: h.log,
		ExpireTokens: h.auth.ExpireOld,
		PruneHistory: func(ctx context.Context, maxAge time.Duration, maxCount int) (int, error) {
			return h.eng().Prune(ctx, maxAge, maxCount)
		},
		HistoryMaxAge: hc.HistoryMaxAge, HistoryMaxCount: hc.HistoryMaxCount}
	h.apiSvc = &api.Services{Auth: h.auth, Limiter: h.lim, Audit: h.audit, Host: h, Workflows: h.engine, Plugins: h.plugins}
	if h.cluster != nil {
		// The workflow engine, the subsystems and the audit sequencer are
		// the leader's duties: they start when this server leads.
		h.prepareFollower()
	} else {
		if err := h.engine.Start(ctx); err != nil {
			cancel()
			_ = h.plugins.Close(ctx)
			h.closeStore()
			return nil, err
		}
		wst := h.engine.Stats()
		h.linef("✅ Auto-execution started for %d workflows (%d triggers)", wst.ActiveWorkflows, wst.Triggers)

		if err := h.startSubsystems(ctx, pol); err != nil {
			cancel()
			_ = h.engine.Stop(ctx)
			_ = h.plugins.Close(ctx)
			h.closeStore()
			return nil, err
		}
	}
	h.wg.Add(1)
	go func() { defer h.wg.Done(); h.sampler.run(runCtx, 2*time.Second) }()
	if h.cluster == nil {
		h.wg.Add(1)
		go func() { defer h.wg.Done(); h.audit.RunRetention(runCtx, hc.AuditRetention, time.Hour) }()
	}

	h.api = api.New(h.apiSvc, api.Options{
		Logger: h.log, BodyLimit: hc.BodyLimit, RequestTimeout: hc.RequestTimeout,
		AnonymousReads: a.AnonymousReads, Version: Version, Cluster: h.clusterAPI(),
	})
	ln, err := net.Listen("tcp", hc.Listen)
	if err != nil {
		cancel()
		h.wg.Wait()
		h.stopSubsystems(ctx)
		_ = h.engine.Stop(ctx)
		_ = h.plugins.Close(ctx)
		return fail(fmt.Errorf("api: listen on %s: %w", hc.Listen, err))
	}
	h.ln = ln
	h.runCluster(runCtx, hc)
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := h.api.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			h.log.Error("api: serve", "err", err)
		}
	}()

	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		_ = config.Watch(runCtx, opts.PoliciesDir, opts.WatchDebounce, func() {
			h.Reload(runCtx, "heady", "watch")
		})
	}()
	h.linef("✅ Policy hot reload watching %s", opts.PoliciesDir)
	h.systemAudit(ctx, "host.start", "host", hc.Name, "success", map[string]any{"version": Version, "policy_version": pol.Version})
	h.linef("Automation systems integrated and running")
	h.linef("Heady %s running on %s", Version, ln.Addr())
	h.linef("Automation Systems: ACTIVE")
	return h, nil
}

// Addr is the API's listening address.
func (h *Host) Addr() net.Addr { return h.ln.Addr() }

// Store exposes the store (tests).
func (h *Host) Store() *store.Store { return h.store }

// Shutdown stops the API, the subsystems and the store, in reverse order.
func (h *Host) Shutdown(ctx context.Context) error {
	h.systemAudit(ctx, "host.stop", "host", h.policy.Load().Host.Name, "success", nil)
	var errs []error
	if err := h.api.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("api: shutdown: %w", err))
	}
	h.cancel()
	h.wg.Wait()
	h.stopLeaderDuties(ctx)
	errs = append(errs, h.stopSubsystems(ctx)...)
	if err := h.eng().Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("workflow: stop: %w", err))
	}
	if err := h.plugins.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("plugins: close: %w", err))
	}
	if err := h.auditLog().Close(); err != nil {
		errs = append(errs, fmt.Errorf("audit: close: %w", err))
	}
	h.stopCluster()
	if err := h.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store: close: %w", err))
	}
	return errors.Join(errs...)
}

func (h *Host) closeStore() {
	h.stopCluster()
	if h.store != nil {
		_ = h.store.Close()
	}
}

func (h *Host) load() (*config.Policy, hcl.Diagnostics) {
	vars, diags := parseVars(h.opts.Vars)
	if diags.HasErrors() {
		return nil, diags
	}
	return config.Load(h.opts.PoliciesDir, config.LoadOptions{Vars: vars})
}

func (h *Host) applyFlags(hc *config.Host) {
	if h.opts.DataDir != "" {
		hc.DataDir = h.opts.DataDir
	}
	if h.opts.Listen != "" {
		hc.Listen = h.opts.Listen
	}
	if len(h.opts.PluginDirs) > 0 {
		hc.PluginDirs = h.opts.PluginDirs
	}
	if hc.Name == "" {
		hc.Name, _ = os.Hostname()
	}
}

func (h *Host) linef(format string, args ...any) {
	fmt.Fprintf(h.out, format+"\n", args...)
}

func (h *Host) auditSummary(ctx context.Context) string {
	st, err := h.audit.Statistics(ctx, time.Time{}, time.Time{})
	if err != nil {
		return "statistics unavailable: " + err.Error()
	}
	return fmt.Sprintf("%d entries", st.Total)
}

// systemAudit records an automated action.
func (h *Host) systemAudit(ctx context.Context, action, rtype, rid, outcome string, details map[string]any) {
	lg := h.auditLog()
	if lg == nil || !h.auditsHere() {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := lg.Append(actx, audit.Entry{
		Actor: "heady", ActorKind: "system", Action: action, ResourceType: rtype, ResourceID: rid,
		Outcome: outcome, Details: details,
	}); err != nil && h.log != nil {
		h.log.Error("audit append failed", "action", action, "err", err)
	}
}

func short(v string) string {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}

func filesOf(p *config.Policy) []config.SourceFile {
	if p == nil {
		return nil
	}
	return p.Files
}
