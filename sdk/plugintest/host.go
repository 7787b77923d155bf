package plugintest

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/heady-dev/heady/sdk"
)

// Event is an event a component emitted.
type Event struct {
	Type string
	Data map[string]any
}

// LogLine is a line a component logged through the host.
type LogLine struct {
	Level   slog.Level
	Message string
	Fields  map[string]any
}

// WorkflowRun is a workflow a component started.
type WorkflowRun struct {
	Name  string
	Input map[string]any
}

// Host is an in-memory sdk.Host that records every callback. Set
// MetricValues, MaintenanceFunc before the calls that need them.
type Host struct {
	mu        sync.Mutex
	events    []Event
	logs      []LogLine
	workflows []WorkflowRun
	kv        map[string][]byte

	// MetricValues is returned by Metrics.
	MetricValues map[string]float64
	// MaintenanceFunc answers Maintenance; nil answers an error.
	MaintenanceFunc func(ctx context.Context, op string, args map[string]any) (map[string]any, error)
}

// NewHost returns an empty Host.
func NewHost() *Host { return &Host{kv: map[string][]byte{}} }

// Events returns the events emitted so far.
func (h *Host) Events() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Event(nil), h.events...)
}

// Logs returns the lines logged so far.
func (h *Host) Logs() []LogLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]LogLine(nil), h.logs...)
}

// Workflows returns the workflows started so far.
func (h *Host) Workflows() []WorkflowRun {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]WorkflowRun(nil), h.workflows...)
}

// KV returns a copy of the plugin's key space.
func (h *Host) KV() map[string][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]byte, len(h.kv))
	for k, v := range h.kv {
		out[k] = append([]byte(nil), v...)
	}
	return out
}

func (h *Host) EmitEvent(_ context.Context, eventType string, data map[string]any) error {
	if eventType == "" {
		return fmt.Errorf("emit event: empty type")
	}
	h.mu.Lock()
	h.events = append(h.events, Event{Type: eventType, Data: data})
	h.mu.Unlock()
	return nil
}

func (h *Host) KVGet(_ context.Context, key string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.kv[key]
	if !ok {
		return nil, sdk.ErrNotFound
	}
	return append([]byte{}, v...), nil
}

func (h *Host) KVPut(_ context.Context, key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("kv put: empty key")
	}
	h.mu.Lock()
	h.kv[key] = append([]byte{}, value...)
	h.mu.Unlock()
	return nil
}

func (h *Host) KVDelete(_ context.Context, key string) error {
	h.mu.Lock()
	delete(h.kv, key)
	h.mu.Unlock()
	return nil
}

func (h *Host) KVList(_ context.Context, prefix string) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []string
	for k := range h.kv {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

func (h *Host) Log(_ context.Context, level slog.Level, msg string, fields map[string]any) error {
	h.mu.Lock()
	h.logs = append(h.logs, LogLine{Level: level, Message: msg, Fields: fields})
	h.mu.Unlock()
	return nil
}

func (h *Host) Metrics(context.Context) (map[string]float64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]float64, len(h.MetricValues))
	for k, v := range h.MetricValues {
		out[k] = v
	}
	return out, nil
}

func (h *Host) RunWorkflow(_ context.Context, name string, input map[string]any) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.workflows = append(h.workflows, WorkflowRun{Name: name, Input: input})
	return fmt.Sprintf("exec-%d", len(h.workflows)), nil
}

func (h *Host) Maintenance(ctx context.Context, op string, args map[string]any) (map[string]any, error) {
	if h.MaintenanceFunc == nil {
		return nil, fmt.Errorf("maintenance %s: not supported by the test host", op)
	}
	return h.MaintenanceFunc(ctx, op, args)
}

var _ sdk.Host = (*Host)(nil)
