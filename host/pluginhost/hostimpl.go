package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/sdk"
)

// pluginHost is the sdk.Host one plugin sees: KV in its own key space of
// the store, logs tagged with its name, the rest through HostServices.
type pluginHost struct {
	m    *Manager
	name string
}

func (h *pluginHost) prefix() string { return store.SpacePluginKV + h.name + "/" }

func checkKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	if strings.ContainsRune(key, 0) {
		return errors.New("key contains a NUL byte")
	}
	if len(key) > 1024 {
		return errors.New("key longer than 1024 bytes")
	}
	return nil
}

func (h *pluginHost) errf(op string, err error) error {
	return fmt.Errorf("plugin %s: %s: %w", h.name, op, err)
}

func (h *pluginHost) KVGet(_ context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, h.errf("kv get", err)
	}
	st := h.m.opts.Store
	if st == nil {
		return nil, h.errf("kv get", errors.New("no store"))
	}
	v, err := st.Get(h.prefix() + key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, sdk.ErrNotFound
	}
	if err != nil {
		return nil, h.errf("kv get", err)
	}
	return v, nil
}

func (h *pluginHost) KVPut(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return h.errf("kv put", err)
	}
	st := h.m.opts.Store
	if st == nil {
		return h.errf("kv put", errors.New("no store"))
	}
	if err := st.Apply(ctx, store.Put(h.prefix()+key, value)); err != nil {
		return h.errf("kv put", err)
	}
	return nil
}

func (h *pluginHost) KVDelete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return h.errf("kv delete", err)
	}
	st := h.m.opts.Store
	if st == nil {
		return h.errf("kv delete", errors.New("no store"))
	}
	if err := st.Apply(ctx, store.Delete(h.prefix()+key)); err != nil {
		return h.errf("kv delete", err)
	}
	return nil
}

func (h *pluginHost) KVList(_ context.Context, prefix string) ([]string, error) {
	st := h.m.opts.Store
	if st == nil {
		return nil, h.errf("kv list", errors.New("no store"))
	}
	base := h.prefix()
	var keys []string
	err := st.Scan(store.ScanOptions{Prefix: base + prefix, KeysOnly: true}, func(k string, _ []byte) (bool, error) {
		keys = append(keys, strings.TrimPrefix(k, base))
		return true, nil
	})
	if err != nil {
		return nil, h.errf("kv list", err)
	}
	return keys, nil
}

func (h *pluginHost) Log(ctx context.Context, level slog.Level, msg string, fields map[string]any) error {
	l := h.m.log
	if !l.Enabled(ctx, level) {
		return nil
	}
	args := make([]any, 0, 2+2*len(fields))
	args = append(args, "plugin", h.name)
	for k, v := range fields {
		args = append(args, k, v)
	}
	l.Log(ctx, level, msg, args...)
	return nil
}

var errNoServices = errors.New("not available in this host")

func (h *pluginHost) EmitEvent(ctx context.Context, eventType string, data map[string]any) error {
	if eventType == "" {
		return h.errf("emit event", errors.New("empty event type"))
	}
	s := h.m.opts.Services
	if s == nil {
		return h.errf("emit event", errNoServices)
	}
	return s.EmitEvent(ctx, h.name, eventType, data)
}

func (h *pluginHost) Metrics(ctx context.Context) (map[string]float64, error) {
	s := h.m.opts.Services
	if s == nil {
		return nil, h.errf("metrics", errNoServices)
	}
	return s.Metrics(ctx)
}

func (h *pluginHost) RunWorkflow(ctx context.Context, name string, input map[string]any) (string, error) {
	s := h.m.opts.Services
	if s == nil {
		return "", h.errf("run workflow", errNoServices)
	}
	return s.RunWorkflow(ctx, h.name, name, input)
}

func (h *pluginHost) Maintenance(ctx context.Context, op string, args map[string]any) (map[string]any, error) {
	s := h.m.opts.Services
	if s == nil {
		return nil, h.errf("maintenance", errNoServices)
	}
	return s.Maintenance(ctx, h.name, op, args)
}

var _ sdk.Host = (*pluginHost)(nil)
