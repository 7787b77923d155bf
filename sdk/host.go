package sdk

import (
	"context"
	"log/slog"
	"strings"
)

// Host is the host's side of the conversation: the callbacks a component
// can make. Components receive it through Initializer.Init. All methods are
// safe for concurrent use and honour the context's deadline.
type Host interface {
	// EmitEvent publishes an event into the host's event bus, where it can
	// trigger workflows.
	EmitEvent(ctx context.Context, eventType string, data map[string]any) error
	// KVGet reads a key from the plugin's own key space; ErrNotFound when
	// absent.
	KVGet(ctx context.Context, key string) ([]byte, error)
	// KVPut writes a key in the plugin's own key space.
	KVPut(ctx context.Context, key string, value []byte) error
	// KVDelete deletes a key from the plugin's own key space.
	KVDelete(ctx context.Context, key string) error
	// KVList lists the keys under prefix in the plugin's own key space, in
	// order.
	KVList(ctx context.Context, prefix string) ([]string, error)
	// Log writes a line to the host's log, tagged with the plugin's name.
	Log(ctx context.Context, level slog.Level, msg string, fields map[string]any) error
	// Metrics returns the host's current metrics (cpu, memory, ...).
	Metrics(ctx context.Context) (map[string]float64, error)
	// RunWorkflow starts a workflow and returns its execution id.
	RunWorkflow(ctx context.Context, name string, input map[string]any) (string, error)
	// Maintenance asks the host to perform an operation only the host
	// process can do (for example "store.backup", "store.gc").
	Maintenance(ctx context.Context, op string, args map[string]any) (map[string]any, error)
}

// LevelString renders a slog level as debug | info | warn | error.
func LevelString(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}

// ParseLevel is the inverse of LevelString; unknown names map to info.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "trace", "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
