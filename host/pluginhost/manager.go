package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/hcl/v2"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/client"
)

// Manager finds, launches, supervises and calls plugins. Its methods are
// safe for concurrent use.
type Manager struct {
	opts Options
	log  *slog.Logger

	mu      sync.RWMutex
	plugins map[string]*proc
	closed  bool

	descMu    sync.Mutex
	descCache map[string]sdk.Manifest // by binary sha256

	wg sync.WaitGroup // supervision goroutines
}

// New returns a Manager. It starts nothing until Apply or the first call.
func New(opts Options) *Manager {
	opts.defaults()
	return &Manager{opts: opts, log: opts.Logger, plugins: map[string]*proc{}, descCache: map[string]sdk.Manifest{}}
}

// proc is one plugin: its desired configuration and its process.
type proc struct {
	m    *Manager
	name string

	mu sync.Mutex
	// desired state
	path    string
	pin     string
	enabled bool
	configs map[string]map[string]any // component -> decoded config
	// process state
	state       string
	pc          *plugin.Client
	pid         int
	sha         string
	manifest    sdk.Manifest
	hasMan      bool
	restarts    int
	restartLog  []time.Time
	attempt     int
	lastErr     string
	startedAt   time.Time
	failedAt    time.Time
	gen         int
	starting    chan struct{}
	startingGen int
	timer       *time.Timer

	live atomic.Pointer[liveConn]
}

// liveConn is the immutable view of a running plugin used by calls.
type liveConn struct {
	conn    *client.Conn
	kinds   map[string]sdk.Kind
	compErr map[string]string
}

// validName is what NAME in heady-plugin-NAME may be.
var validName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Discover lists the heady-plugin-NAME executables in the plugin
// directories (NAME: lower-case letters, digits and underscores); for a
// name present in several directories the first wins.
func (m *Manager) Discover(ctx context.Context) ([]Binary, error) {
	seen := map[string]bool{}
	var out []Binary
	var errs []error
	for _, dir := range m.opts.Dirs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("plugins: read %s: %w", dir, err))
			continue
		}
		for _, e := range entries {
			n := e.Name()
			if !strings.HasPrefix(n, BinaryPrefix) || e.IsDir() {
				continue
			}
			name := strings.TrimSuffix(strings.TrimPrefix(n, BinaryPrefix), ".exe")
			if !validName.MatchString(name) || seen[name] {
				continue
			}
			p := filepath.Join(dir, n)
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
				continue
			}
			seen[name] = true
			out = append(out, Binary{Name: name, Path: p})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errors.Join(errs...)
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Describe runs the binary with --describe and returns its manifest,
// cached by the binary's SHA-256. The manifest is validated and its sdk
// version checked for compatibility.
func (m *Manager) Describe(ctx context.Context, path string) (sdk.Manifest, error) {
	sum, err := hashFile(path)
	if err != nil {
		return sdk.Manifest{}, fmt.Errorf("plugins: describe %s: %w", path, err)
	}
	return m.describe(ctx, path, sum)
}

func (m *Manager) describe(ctx context.Context, path, sum string) (sdk.Manifest, error) {
	m.descMu.Lock()
	man, ok := m.descCache[sum]
	m.descMu.Unlock()
	if ok {
		return man, nil
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.StartTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--describe")
	cmd.SysProcAttr = procAttr(syscall.SIGKILL)
	cmd.Env = []string{}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return sdk.Manifest{}, fmt.Errorf("plugins: describe %s: %w", path, err)
	}
	if err := json.Unmarshal(out, &man); err != nil {
		return sdk.Manifest{}, fmt.Errorf("plugins: describe %s: decode manifest: %w", path, err)
	}
	if err := man.Validate(); err != nil {
		return sdk.Manifest{}, fmt.Errorf("plugins: describe %s: %w", path, err)
	}
	if err := sdk.CheckCompatible(sdk.Version, man.SDKVersion); err != nil {
		return sdk.Manifest{}, fmt.Errorf("plugins: describe %s: %w", path, err)
	}
	m.descMu.Lock()
	m.descCache[sum] = man
	m.descMu.Unlock()
	return man, nil
}

// desired is the decoded intent of one plugin block.
type desired struct {
	name    string
	sum     string // the binary's sha256 when known
	path    string
	pin     string
	enabled bool
	configs map[string]map[string]any
	block   *config.Plugin
}

func (m *Manager) evalContext() *hcl.EvalContext {
	if m.opts.EvalContext == nil {
		return nil
	}
	return m.opts.EvalContext()
}

// decode turns plugin blocks into desired states, describing binaries as
// needed. A checksum mismatch is a warning; the plugin is refused when the
// policy is applied.
func (m *Manager) decode(ctx context.Context, blocks []*config.Plugin, bins []Binary) (map[string]*desired, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	byName := map[string]string{}
	for _, b := range bins {
		byName[b.Name] = b.Path
	}
	ectx := m.evalContext()
	out := map[string]*desired{}
	for _, b := range blocks {
		if b == nil {
			continue
		}
		d := &desired{name: b.Name, pin: strings.ToLower(strings.TrimSpace(b.SHA256)), enabled: b.Enabled, configs: map[string]map[string]any{}, block: b}
		if _, dup := out[b.Name]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate plugin block",
				Detail: fmt.Sprintf("The plugin %q is configured more than once.", b.Name), Subject: b.DeclRange.Ptr()})
			continue
		}
		out[b.Name] = d
		d.path = b.Path
		if d.path == "" {
			d.path = byName[b.Name]
		}
		if d.path == "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin not found",
				Detail:  fmt.Sprintf("No executable %s%s in the plugin directories (%s); build it into one of them or set path.", BinaryPrefix, b.Name, strings.Join(m.opts.Dirs, ", ")),
				Subject: b.DeclRange.Ptr()})
			continue
		}
		if d.pin != "" {
			if len(d.pin) != 64 || strings.Trim(d.pin, "0123456789abcdef") != "" {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid checksum",
					Detail: "sha256 must be 64 hexadecimal digits (the output of sha256sum).", Subject: b.DeclRange.Ptr()})
				continue
			}
		}
		sum, err := hashFile(d.path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin not readable",
				Detail: fmt.Sprintf("Cannot read %s: %s.", d.path, err), Subject: b.DeclRange.Ptr()})
			continue
		}
		d.sum = sum
		if d.pin != "" && sum != d.pin {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Plugin checksum mismatch",
				Detail:  fmt.Sprintf("The plugin %q at %s has sha256 %s, but the policy pins %s; the plugin is refused.", b.Name, d.path, sum, d.pin),
				Subject: b.DeclRange.Ptr()})
			continue
		}
		if !d.enabled {
			continue
		}
		man, err := m.describe(ctx, d.path, sum)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin cannot be described",
				Detail: err.Error(), Subject: b.DeclRange.Ptr()})
			continue
		}
		if man.Name != b.Name {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin name mismatch",
				Detail: fmt.Sprintf("The binary %s calls itself %q, not %q.", d.path, man.Name, b.Name), Subject: b.DeclRange.Ptr()})
			continue
		}
		known := make([]string, 0, len(man.Components))
		for _, c := range man.Components {
			known = append(known, c.Name)
		}
		for _, cb := range b.Components {
			info, ok := man.Component(cb.Name)
			if !ok {
				detail := fmt.Sprintf("The plugin %q has no component %q.", b.Name, cb.Name)
				if s := nameSuggestion(cb.Name, known); s != "" {
					detail += fmt.Sprintf(" Did you mean %q?", s)
				} else {
					detail += " It has: " + strings.Join(known, ", ") + "."
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown plugin component", Detail: detail, Subject: cb.DeclRange.Ptr()})
				continue
			}
			if _, dup := d.configs[cb.Name]; dup {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate component block",
					Detail: fmt.Sprintf("The component %s.%s is configured more than once.", b.Name, cb.Name), Subject: cb.DeclRange.Ptr()})
				continue
			}
			cfg, ds := DecodeConfig(cb.Body, info.Config, ectx)
			diags = append(diags, ds...)
			d.configs[cb.Name] = cfg
		}
		for _, c := range man.Components {
			if _, ok := d.configs[c.Name]; ok {
				continue
			}
			if _, ds := c.Config.ApplyDefaults(nil); ds.HasErrors() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing component configuration",
					Detail:  fmt.Sprintf("The component %s.%s needs a component %q block: %s.", b.Name, c.Name, c.Name, ds.Error()),
					Subject: b.DeclRange.Ptr()})
			}
		}
	}
	return out, diags
}

// Validate decodes every plugin block and component configuration against
// the plugins' declared schemas without starting them (manifests come from
// --describe), so mistakes are reported with file:line:col. A checksum
// mismatch is a warning, as in Apply: the policy is valid, the binary is
// refused.
func (m *Manager) Validate(plugins []*config.Plugin) hcl.Diagnostics {
	ctx, cancel := context.WithTimeout(context.Background(), 2*m.opts.StartTimeout)
	defer cancel()
	bins, err := m.Discover(ctx)
	var diags hcl.Diagnostics
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Plugin directory unreadable", Detail: err.Error()})
	}
	_, ds := m.decode(ctx, plugins, bins)
	return append(diags, ds...)
}

// Apply reconciles the running plugins with the policy's plugin blocks.
// It validates first and changes nothing when there are errors. Unchanged
// plugins keep running; changed component configurations are applied to the
// running process without a restart; a changed path or pin restarts the
// plugin lazily; disabled or vanished plugins are stopped. Plugins found in
// the plugin directories without a block are available with their
// defaults. A pinned plugin whose checksum does not match is refused and a
// security event is recorded.
func (m *Manager) Apply(ctx context.Context, plugins []*config.Plugin) hcl.Diagnostics {
	bins, err := m.Discover(ctx)
	var diags hcl.Diagnostics
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Plugin directory unreadable", Detail: err.Error()})
	}
	want, ds := m.decode(ctx, plugins, bins)
	diags = append(diags, ds...)
	if diags.HasErrors() {
		return diags
	}
	for _, b := range bins {
		if _, ok := want[b.Name]; !ok {
			sum, _ := hashFile(b.Path)
			want[b.Name] = &desired{name: b.Name, sum: sum, path: b.Path, enabled: true, configs: map[string]map[string]any{}}
		}
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin host closed"})
	}
	var removed []*proc
	for name, p := range m.plugins {
		if _, ok := want[name]; !ok {
			removed = append(removed, p)
			delete(m.plugins, name)
		}
	}
	var todo []func()
	for name, d := range want {
		p := m.plugins[name]
		if p == nil {
			p = &proc{m: m, name: name, state: StateIdle}
			m.plugins[name] = p
		}
		todo = append(todo, func() { diags = append(diags, p.reconcile(ctx, d)...) })
	}
	m.mu.Unlock()
	for _, p := range removed {
		p.stop(StateStopped, "removed from the plugin directories")
	}
	for _, f := range todo {
		f()
	}
	// Describe plugins without blocks so List and Schema show them.
	for _, b := range bins {
		m.mu.RLock()
		p := m.plugins[b.Name]
		m.mu.RUnlock()
		if p == nil {
			continue
		}
		p.mu.Lock()
		has, path := p.hasMan, p.path
		p.mu.Unlock()
		if !has {
			if man, err := m.Describe(ctx, path); err == nil {
				p.mu.Lock()
				if !p.hasMan {
					p.manifest, p.hasMan = man, true
				}
				p.mu.Unlock()
			}
		}
	}
	return diags
}

// reconcile applies a desired state to a plugin.
func (p *proc) reconcile(ctx context.Context, d *desired) hcl.Diagnostics {
	p.mu.Lock()
	pathChanged := p.path != d.path || p.pin != d.pin
	enabledChanged := p.enabled != d.enabled
	configChanged := !reflect.DeepEqual(p.configs, d.configs)
	first := p.path == ""
	// A rebuilt binary at the same path is a change too.
	binaryChanged := p.state == StateRunning && d.sum != "" && p.sha != "" && d.sum != p.sha
	p.path, p.pin, p.enabled, p.configs = d.path, d.pin, d.enabled, d.configs
	state := p.state
	p.mu.Unlock()

	switch {
	case !d.enabled:
		if state != StateStopped || enabledChanged {
			p.stop(StateStopped, "disabled by policy")
		}
		return nil
	case pathChanged || enabledChanged || binaryChanged:
		if !first {
			p.stop(StateIdle, "")
		}
		p.mu.Lock()
		if p.state == StateStopped || p.state == StateRefused || p.state == StateFailed {
			p.state, p.lastErr = StateIdle, ""
			p.restartLog = nil
		}
		p.mu.Unlock()
	}
	// Refuse a pinned plugin with a mismatching binary right away.
	if d.pin != "" {
		if sum, err := hashFile(d.path); err == nil && sum != d.pin {
			p.refuse(sum)
			return nil
		}
	}
	if configChanged && !pathChanged {
		return p.reconfigure(ctx, d)
	}
	return nil
}

// reconfigure sends changed component configurations to a running plugin.
// A rejected configuration is reported as a diagnostic.
func (p *proc) reconfigure(ctx context.Context, d *desired) hcl.Diagnostics {
	lc := p.live.Load()
	if lc == nil {
		return nil // applied at the next start
	}
	var diags hcl.Diagnostics
	compErr := map[string]string{}
	for k, v := range lc.compErr {
		compErr[k] = v
	}
	p.mu.Lock()
	man := p.manifest
	p.mu.Unlock()
	for _, c := range man.Components {
		cfg := d.configs[c.Name]
		if cfg == nil {
			cfg, _ = c.Config.ApplyDefaults(nil)
		}
		cctx, cancel := context.WithTimeout(ctx, p.m.opts.StartTimeout)
		_, err := lc.conn.Configure(cctx, c.Name, cfg)
		cancel()
		if err != nil {
			// A component that was working keeps its previous instance
			// (the plugin closes only the rejected one); one that never
			// configured stays unavailable with this error.
			if _, broken := compErr[c.Name]; broken {
				compErr[c.Name] = err.Error()
			}
			var subj *hcl.Range
			if d.block != nil {
				subj = d.block.DeclRange.Ptr()
				for _, cb := range d.block.Components {
					if cb.Name == c.Name {
						subj = cb.DeclRange.Ptr()
					}
				}
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin rejected its configuration",
				Detail: fmt.Sprintf("plugin %s: %s", p.name, err), Subject: subj})
			continue
		}
		delete(compErr, c.Name)
	}
	p.live.CompareAndSwap(lc, &liveConn{conn: lc.conn, kinds: lc.kinds, compErr: compErr})
	return diags
}

func (p *proc) refuse(sum string) {
	p.stop(StateRefused, "")
	p.mu.Lock()
	if p.state != StateRefused {
		p.mu.Unlock()
		return
	}
	msg := fmt.Sprintf("checksum mismatch: the policy pins sha256 %s, the binary %s has %s", p.pin, p.path, sum)
	already := p.lastErr == msg
	p.lastErr, p.sha = msg, sum
	ev := LifecycleEvent{Kind: EventRefused, Plugin: p.name, Path: p.path, SHA256: sum, Restarts: p.restarts, Error: msg, Security: true}
	p.mu.Unlock()
	if !already {
		p.m.log.Error("plugin refused", "plugin", p.name, "error", msg)
		p.m.record(ev)
	}
}

func (m *Manager) record(e LifecycleEvent) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if m.opts.Recorder != nil {
		m.opts.Recorder.Record(context.Background(), e)
	}
}

func (m *Manager) lookup(name string) *proc {
	m.mu.RLock()
	p := m.plugins[name]
	m.mu.RUnlock()
	if p != nil {
		return p
	}
	// A plugin installed after the last Apply: pick it up lazily.
	bins, _ := m.Discover(context.Background())
	for _, b := range bins {
		if b.Name != name {
			continue
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.closed {
			return nil
		}
		if p = m.plugins[name]; p == nil {
			p = &proc{m: m, name: name, path: b.Path, enabled: true, state: StateIdle}
			m.plugins[name] = p
		}
		return p
	}
	return nil
}

// List returns the status of every known plugin, sorted by name.
func (m *Manager) List() []Status {
	m.mu.RLock()
	ps := make([]*proc, 0, len(m.plugins))
	for _, p := range m.plugins {
		ps = append(ps, p)
	}
	m.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool { return ps[i].name < ps[j].name })
	out := make([]Status, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.status())
	}
	return out
}

func (p *proc) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{
		Name: p.name, Path: p.path, SHA256: p.sha, Pinned: p.pin != "", Enabled: p.enabled,
		PID: p.pid, State: p.state, Restarts: p.restarts, LastError: p.lastErr, StartedAt: p.startedAt,
		Components: []ComponentInfo{},
	}
	if p.hasMan {
		s.Version, s.SDKVersion = p.manifest.Version, p.manifest.SDKVersion
		var compErr map[string]string
		if lc := p.live.Load(); lc != nil {
			compErr = lc.compErr
		}
		for _, c := range p.manifest.Components {
			s.Components = append(s.Components, ComponentInfo{Name: p.name + "." + c.Name, Kind: c.Kind, Description: c.Description, Error: compErr[c.Name]})
		}
	}
	return s
}

// Schema returns the manifest of a plugin (its components and their
// schemas), describing the binary if it has not been started.
func (m *Manager) Schema(name string) (sdk.Manifest, bool) {
	p := m.lookup(name)
	if p == nil {
		return sdk.Manifest{}, false
	}
	p.mu.Lock()
	man, has, path := p.manifest, p.hasMan, p.path
	p.mu.Unlock()
	if has {
		return man, true
	}
	if path == "" {
		return sdk.Manifest{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.StartTimeout)
	defer cancel()
	man, err := m.Describe(ctx, path)
	if err != nil {
		return sdk.Manifest{}, false
	}
	p.mu.Lock()
	p.manifest, p.hasMan = man, true
	p.mu.Unlock()
	return man, true
}

// Component returns the description and schemas of the component name
// ("PLUGIN.COMPONENT") without starting the plugin. Engines decode per-use
// blocks (heal options, scaling backend, discovery config) against its
// Inputs schema with DecodeConfig.
func (m *Manager) Component(name string) (sdk.ComponentInfo, bool) {
	pname, comp, ok := strings.Cut(name, ".")
	if !ok {
		return sdk.ComponentInfo{}, false
	}
	man, ok := m.Schema(pname)
	if !ok {
		return sdk.ComponentInfo{}, false
	}
	return man.Component(comp)
}

// Ping checks every running plugin over gRPC. Plugins not started yet are
// not reported; crashed, failed and refused plugins report their error.
func (m *Manager) Ping(ctx context.Context) map[string]error {
	m.mu.RLock()
	ps := make([]*proc, 0, len(m.plugins))
	for _, p := range m.plugins {
		ps = append(ps, p)
	}
	m.mu.RUnlock()
	out := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range ps {
		p.mu.Lock()
		state, pc, lastErr := p.state, p.pc, p.lastErr
		p.mu.Unlock()
		switch state {
		case StateRunning:
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := pingClient(ctx, pc)
				if err != nil {
					err = fmt.Errorf("plugin %s: ping: %w", p.name, err)
				}
				mu.Lock()
				out[p.name] = err
				mu.Unlock()
			}()
		case StateCrashed, StateFailed, StateRefused:
			out[p.name] = fmt.Errorf("plugin %s: %s: %s", p.name, state, lastErr)
		case StateStarting:
			out[p.name] = nil
		}
	}
	wg.Wait()
	return out
}

func pingClient(ctx context.Context, pc *plugin.Client) error {
	if pc == nil || pc.Exited() {
		return errors.New("not running")
	}
	cp, err := pc.Client()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cp.Ping() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops every plugin process and its process group and waits for
// the supervision goroutines. The Manager cannot be used afterwards.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	ps := make([]*proc, 0, len(m.plugins))
	for _, p := range m.plugins {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(StateStopped, "host shutting down") }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("plugins: close: %w", ctx.Err())
	}
}
