package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/heady-dev/heady/sdk/internal/testhook"
)

// Option configures Serve.
type Option func(*serveConfig)

type componentDef struct {
	spec    Spec
	kind    Kind
	factory func() Component
}

type serveConfig struct {
	name        string
	version     string
	description string
	components  []componentDef
	errs        []error
}

func (c *serveConfig) manifest() Manifest {
	m := Manifest{Name: c.name, Version: c.version, Description: c.description, SDKVersion: Version, ProtocolVersion: ProtocolVersion}
	for _, d := range c.components {
		m.Components = append(m.Components, ComponentInfo{
			Name: d.spec.Name, Kind: d.kind, Description: d.spec.Description,
			Config: d.spec.Config, Inputs: d.spec.Inputs, Outputs: d.spec.Outputs,
		})
	}
	if m.Components == nil {
		m.Components = []ComponentInfo{}
	}
	return m
}

// WithName sets the plugin's name: the NAME of heady-plugin-NAME.
func WithName(name string) Option { return func(c *serveConfig) { c.name = name } }

// WithVersion sets the plugin's own semantic version.
func WithVersion(v string) Option { return func(c *serveConfig) { c.version = v } }

// WithDescription sets a one-line description of the plugin.
func WithDescription(d string) Option { return func(c *serveConfig) { c.description = d } }

func addComponent[T Component](c *serveConfig, kind Kind, spec Spec, factory func() T) {
	if factory == nil {
		c.errs = append(c.errs, fmt.Errorf("component %s: nil factory", spec.Name))
		return
	}
	c.components = append(c.components, componentDef{spec: spec, kind: kind, factory: func() Component { return factory() }})
}

// WithAction serves an action component; factory creates an instance each
// time the component is (re)configured.
func WithAction(spec Spec, factory func() Action) Option {
	return func(c *serveConfig) { addComponent(c, KindAction, spec, factory) }
}

// WithHealer serves a healer component.
func WithHealer(spec Spec, factory func() Healer) Option {
	return func(c *serveConfig) { addComponent(c, KindHealer, spec, factory) }
}

// WithScaler serves a scaler component.
func WithScaler(spec Spec, factory func() Scaler) Option {
	return func(c *serveConfig) { addComponent(c, KindScaler, spec, factory) }
}

// WithDiscovery serves a discovery component.
func WithDiscovery(spec Spec, factory func() Discoverer) Option {
	return func(c *serveConfig) { addComponent(c, KindDiscovery, spec, factory) }
}

func buildConfig(opts []Option) (*serveConfig, error) {
	cfg := &serveConfig{}
	for _, o := range opts {
		o(cfg)
	}
	if len(cfg.errs) > 0 {
		return nil, cfg.errs[0]
	}
	return cfg, nil
}

// ManifestOf returns the manifest that Serve would describe for opts, and
// whether it is well formed.
func ManifestOf(opts ...Option) (Manifest, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return Manifest{}, err
	}
	m := cfg.manifest()
	return m, m.Validate()
}

// stderr is the process's real standard error, saved before go-plugin
// redirects os.Stderr.
var stderr = os.Stderr

// Logger returns a logger for plugin code. Its lines reach the host's log,
// tagged with the plugin's name. For lines that belong to one workflow step,
// use ActionResponse.Log instead.
func Logger() *slog.Logger { return logger }

var logger = slog.New(&hclogHandler{h: slog.NewJSONHandler(stderrWriter{}, &slog.HandlerOptions{
	Level: slog.LevelDebug,
	ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.TimeKey:
			a.Key = "@timestamp"
			if t, ok := a.Value.Any().(time.Time); ok {
				a.Value = slog.StringValue(t.Format("2006-01-02T15:04:05.000000Z07:00"))
			}
		case slog.LevelKey:
			a.Key = "@level"
			if l, ok := a.Value.Any().(slog.Level); ok {
				a.Value = slog.StringValue(LevelString(l))
			}
		case slog.MessageKey:
			a.Key = "@message"
		}
		return a
	},
})})

// hclogHandler writes the JSON lines go-plugin forwards to the host's log
// (hclog's format). Attributes whose keys collide with the built-in ones
// (time, level, msg, source) are renamed with a leading underscore.
type hclogHandler struct{ h slog.Handler }

func reservedKey(a slog.Attr) slog.Attr {
	switch a.Key {
	case slog.TimeKey, slog.LevelKey, slog.MessageKey, slog.SourceKey:
		a.Key = "_" + a.Key
	}
	return a
}

func (h *hclogHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *hclogHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(reservedKey(a))
		return true
	})
	return h.h.Handle(ctx, nr)
}

func (h *hclogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = reservedKey(a)
	}
	return &hclogHandler{h: h.h.WithAttrs(out)}
}

func (h *hclogHandler) WithGroup(name string) slog.Handler {
	return &hclogHandler{h: h.h.WithGroup(name)}
}

type stderrWriter struct{}

func (stderrWriter) Write(p []byte) (int, error) { return stderr.Write(p) }

// Serve runs the plugin: it is the whole main function of a plugin binary.
//
// With the argument --describe it prints the manifest as JSON and exits.
// Otherwise it performs the go-plugin handshake with the host and serves the
// components until the host stops it. The process exits by itself when the
// host dies (also after kill -9 of the host), and takes the child processes
// it started in its process group with it.
func Serve(opts ...Option) {
	cfg, err := buildConfig(opts)
	if err == nil {
		err = cfg.manifest().Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "heady plugin: %v\n", err)
		os.Exit(1)
	}
	for _, a := range os.Args[1:] {
		if a == "--describe" || a == "-describe" {
			if err := writeManifest(os.Stdout, cfg.manifest()); err != nil {
				fmt.Fprintf(stderr, "heady plugin: describe: %v\n", err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		fmt.Fprintf(stderr, "This program is a Heady plugin (%s %s). Heady starts it by itself;\n"+
			"install it into a plugin directory, or run it with --describe to print its manifest.\n", cfg.name, cfg.version)
		os.Exit(1)
	}
	srv, err := newServer(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "heady plugin: %v\n", err)
		os.Exit(1)
	}
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.closeAll(ctx)
		cancel()
	}
	watchHost(shutdown)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{PluginMapKey: &grpcPlugin{srv: srv}},
		GRPCServer:      plugin.DefaultGRPCServer,
		Logger:          hclogger(stderr),
	})
	shutdown()
	os.Exit(0)
}

func writeManifest(w io.Writer, m Manifest) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

func hclogger(w io.Writer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Info, Output: w, JSONFormat: true})
}

func init() {
	testhook.ServeInProcess = serveInProcess
}

// serveInProcess serves in go-plugin test mode for sdk/plugintest.
func serveInProcess(ctx context.Context, anyOpts any) (*plugin.ReattachConfig, <-chan struct{}, error) {
	opts, ok := anyOpts.([]Option)
	if !ok {
		return nil, nil, fmt.Errorf("sdk: serve in process: options are %T", anyOpts)
	}
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, nil, err
	}
	srv, err := newServer(cfg)
	if err != nil {
		return nil, nil, err
	}
	reattach := make(chan *plugin.ReattachConfig, 1)
	served := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: Handshake,
			Plugins:         plugin.PluginSet{PluginMapKey: &grpcPlugin{srv: srv}},
			GRPCServer:      plugin.DefaultGRPCServer,
			Logger:          hclogger(io.Discard),
			Test:            &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: served},
		})
		<-served
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.closeAll(cctx)
		cancel()
	}()
	select {
	case rc := <-reattach:
		return rc, done, nil
	case <-done:
		return nil, nil, fmt.Errorf("sdk: serve in process: server stopped before it was ready")
	case <-time.After(10 * time.Second):
		return nil, nil, fmt.Errorf("sdk: serve in process: server did not start")
	}
}
