// Package pluginhost is the host side of Heady's plugins: it finds
// heady-plugin-* binaries, verifies them (optional SHA-256 pin), launches
// them over hashicorp/go-plugin (gRPC, AutoMTLS), describes, configures and
// dispenses their components, and supervises the processes: crash
// detection, restart with exponential backoff inside a restart budget,
// per-call deadlines, log forwarding, and clean shutdown of each plugin's
// whole process group.
//
// Plugins call back into the host through the Host service; KV and logging
// are served here on top of the store and slog, the rest through
// HostServices. Lifecycle events go to a Recorder (the audit trail).
package pluginhost

import (
	"context"
	"log/slog"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/sdk"
)

// BinaryPrefix is the file name prefix of plugin binaries.
const BinaryPrefix = "heady-plugin-"

// Plugin states reported in Status.State.
const (
	StateIdle     = "idle"     // known, not started yet (started on first use)
	StateStarting = "starting" // launching
	StateRunning  = "running"
	StateCrashed  = "crashed" // exited unexpectedly; a restart is scheduled
	StateFailed   = "failed"  // cannot start or restart budget exhausted
	StateRefused  = "refused" // checksum mismatch or incompatible sdk
	StateStopped  = "stopped" // stopped by the host (disabled, removed, closed)
)

// HostServices are the host-side operations plugins reach through their
// Host callbacks that the plugin host cannot do itself. plugin is the name
// of the calling plugin. Implementations must be safe for concurrent use.
type HostServices interface {
	EmitEvent(ctx context.Context, plugin, eventType string, data map[string]any) error
	RunWorkflow(ctx context.Context, plugin, name string, input map[string]any) (executionID string, err error)
	Metrics(ctx context.Context) (map[string]float64, error)
	Maintenance(ctx context.Context, plugin, op string, args map[string]any) (map[string]any, error)
}

// LifecycleKind is the kind of a plugin lifecycle event.
type LifecycleKind string

// Lifecycle event kinds.
const (
	EventStarted   LifecycleKind = "started"
	EventCrashed   LifecycleKind = "crashed"
	EventRestarted LifecycleKind = "restarted"
	EventRefused   LifecycleKind = "refused"
	EventFailed    LifecycleKind = "failed"
	EventStopped   LifecycleKind = "stopped"
)

// LifecycleEvent is one plugin lifecycle event.
type LifecycleEvent struct {
	Kind     LifecycleKind `json:"kind"`
	Plugin   string        `json:"plugin"`
	Version  string        `json:"version,omitempty"`
	Path     string        `json:"path,omitempty"`
	SHA256   string        `json:"sha256,omitempty"`
	PID      int           `json:"pid,omitempty"`
	Restarts int           `json:"restarts"`
	Error    string        `json:"error,omitempty"`
	// Security marks events the audit trail files as security events
	// (a checksum mismatch).
	Security bool      `json:"security,omitempty"`
	Time     time.Time `json:"time"`
}

// Recorder receives lifecycle events (the audit trail). Record must not
// block for long; it is called from supervision goroutines.
type Recorder interface {
	Record(ctx context.Context, e LifecycleEvent)
}

// Options configure a Manager. Zero values take the documented defaults.
type Options struct {
	// Dirs are searched for heady-plugin-* binaries, first match wins.
	Dirs   []string
	Logger *slog.Logger
	// Store backs the plugins' KV key spaces (store.SpacePluginKV). Nil
	// makes KV calls fail.
	Store *store.Store
	// Services serve events, workflows, metrics and maintenance. Nil makes
	// those callbacks fail with a clear error.
	Services HostServices
	Recorder Recorder
	// DisableAutoMTLS turns off go-plugin's automatic mutual TLS between
	// the host and plugins (on by default).
	DisableAutoMTLS bool
	// CallTimeout bounds a call whose context has no deadline (default 5m).
	CallTimeout time.Duration
	// StartTimeout bounds launching a plugin and its handshake (default 30s).
	StartTimeout time.Duration
	// RestartBackoff is the delay before the first restart after a crash,
	// doubled for each further crash up to MaxRestartBackoff (defaults
	// 250ms and 30s).
	RestartBackoff    time.Duration
	MaxRestartBackoff time.Duration
	// RestartBudget is the number of restarts allowed within RestartWindow
	// before the plugin is marked failed (defaults 5 and 10m). A failed
	// plugin is retried on the next call after RestartWindow has passed.
	RestartBudget int
	RestartWindow time.Duration
	// EvalContext supplies variables and functions for expressions in
	// plugin blocks; nil evaluates without them.
	EvalContext func() *hcl.EvalContext
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 5 * time.Minute
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.RestartBackoff <= 0 {
		o.RestartBackoff = 250 * time.Millisecond
	}
	if o.MaxRestartBackoff <= 0 {
		o.MaxRestartBackoff = 30 * time.Second
	}
	if o.RestartBudget <= 0 {
		o.RestartBudget = 5
	}
	if o.RestartWindow <= 0 {
		o.RestartWindow = 10 * time.Minute
	}
}

// Binary is a plugin binary found in a plugin directory.
type Binary struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// ComponentInfo is a component in Status.
type ComponentInfo struct {
	Name string   `json:"name"` // fully qualified: PLUGIN.COMPONENT
	Kind sdk.Kind `json:"kind"`
	// Description is the component's one-line description.
	Description string `json:"description,omitempty"`
	// Error is the component's configuration error, if any.
	Error string `json:"error,omitempty"`
}

// Status is a plugin's state as shown by the API and `heady plugins list`.
type Status struct {
	Name       string          `json:"name"`
	Version    string          `json:"version,omitempty"`
	SDKVersion string          `json:"sdk_version,omitempty"`
	Path       string          `json:"path"`
	SHA256     string          `json:"sha256,omitempty"`
	Pinned     bool            `json:"pinned"`
	Enabled    bool            `json:"enabled"`
	Components []ComponentInfo `json:"components"`
	PID        int             `json:"pid,omitempty"`
	State      string          `json:"state"`
	Restarts   int             `json:"restarts"`
	LastError  string          `json:"last_error,omitempty"`
	StartedAt  time.Time       `json:"started_at,omitzero"`
}
