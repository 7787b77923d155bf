package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"google.golang.org/grpc"

	pluginpb "github.com/heady-dev/heady/sdk/proto"
)

// errNoHost is returned by Host methods before the host has connected.
var errNoHost = errors.New("sdk: host callbacks are not connected")

// hostProxy implements Host over the broker connection the host hands out
// in Init. It is created before any component and connected later.
type hostProxy struct {
	mu   sync.RWMutex
	c    pluginpb.HostClient
	conn *grpc.ClientConn
}

func (h *hostProxy) set(c pluginpb.HostClient, conn *grpc.ClientConn) {
	h.mu.Lock()
	old := h.conn
	h.c, h.conn = c, conn
	h.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
}

func (h *hostProxy) close() {
	h.mu.Lock()
	conn := h.conn
	h.c, h.conn = nil, nil
	h.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}

func (h *hostProxy) client() (pluginpb.HostClient, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.c == nil {
		return nil, errNoHost
	}
	return h.c, nil
}

func marshalObject(m map[string]any) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	return json.Marshal(m)
}

func unmarshalObject(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m map[string]any
	err := json.Unmarshal(b, &m)
	return m, err
}

func (h *hostProxy) EmitEvent(ctx context.Context, eventType string, data map[string]any) error {
	c, err := h.client()
	if err != nil {
		return err
	}
	b, err := marshalObject(data)
	if err != nil {
		return fmt.Errorf("host: emit event: encode data: %w", err)
	}
	if _, err := c.EmitEvent(ctx, &pluginpb.EmitEventRequest{Type: eventType, Data: b}); err != nil {
		return fmt.Errorf("host: emit event: %w", err)
	}
	return nil
}

func (h *hostProxy) KVGet(ctx context.Context, key string) ([]byte, error) {
	c, err := h.client()
	if err != nil {
		return nil, err
	}
	r, err := c.KVGet(ctx, &pluginpb.KVGetRequest{Key: key})
	if err != nil {
		return nil, fmt.Errorf("host: kv get %q: %w", key, err)
	}
	if !r.Found {
		return nil, ErrNotFound
	}
	if r.Value == nil {
		return []byte{}, nil
	}
	return r.Value, nil
}

func (h *hostProxy) KVPut(ctx context.Context, key string, value []byte) error {
	c, err := h.client()
	if err != nil {
		return err
	}
	if _, err := c.KVPut(ctx, &pluginpb.KVPutRequest{Key: key, Value: value}); err != nil {
		return fmt.Errorf("host: kv put %q: %w", key, err)
	}
	return nil
}

func (h *hostProxy) KVDelete(ctx context.Context, key string) error {
	c, err := h.client()
	if err != nil {
		return err
	}
	if _, err := c.KVDelete(ctx, &pluginpb.KVDeleteRequest{Key: key}); err != nil {
		return fmt.Errorf("host: kv delete %q: %w", key, err)
	}
	return nil
}

func (h *hostProxy) KVList(ctx context.Context, prefix string) ([]string, error) {
	c, err := h.client()
	if err != nil {
		return nil, err
	}
	r, err := c.KVList(ctx, &pluginpb.KVListRequest{Prefix: prefix})
	if err != nil {
		return nil, fmt.Errorf("host: kv list %q: %w", prefix, err)
	}
	return r.Keys, nil
}

func (h *hostProxy) Log(ctx context.Context, level slog.Level, msg string, fields map[string]any) error {
	c, err := h.client()
	if err != nil {
		return err
	}
	b, err := marshalObject(fields)
	if err != nil {
		return fmt.Errorf("host: log: encode fields: %w", err)
	}
	if _, err := c.Log(ctx, &pluginpb.LogRequest{Level: LevelString(level), Message: msg, Fields: b}); err != nil {
		return fmt.Errorf("host: log: %w", err)
	}
	return nil
}

func (h *hostProxy) Metrics(ctx context.Context) (map[string]float64, error) {
	c, err := h.client()
	if err != nil {
		return nil, err
	}
	r, err := c.Metrics(ctx, &pluginpb.Empty{})
	if err != nil {
		return nil, fmt.Errorf("host: metrics: %w", err)
	}
	return r.Values, nil
}

func (h *hostProxy) RunWorkflow(ctx context.Context, name string, input map[string]any) (string, error) {
	c, err := h.client()
	if err != nil {
		return "", err
	}
	b, err := marshalObject(input)
	if err != nil {
		return "", fmt.Errorf("host: run workflow %s: encode input: %w", name, err)
	}
	r, err := c.RunWorkflow(ctx, &pluginpb.RunWorkflowRequest{Name: name, Input: b})
	if err != nil {
		return "", fmt.Errorf("host: run workflow %s: %w", name, err)
	}
	return r.ExecutionId, nil
}

func (h *hostProxy) Maintenance(ctx context.Context, op string, args map[string]any) (map[string]any, error) {
	c, err := h.client()
	if err != nil {
		return nil, err
	}
	b, err := marshalObject(args)
	if err != nil {
		return nil, fmt.Errorf("host: maintenance %s: encode args: %w", op, err)
	}
	r, err := c.Maintenance(ctx, &pluginpb.MaintenanceRequest{Op: op, Args: b})
	if err != nil {
		return nil, fmt.Errorf("host: maintenance %s: %w", op, err)
	}
	m, err := unmarshalObject(r.Result)
	if err != nil {
		return nil, fmt.Errorf("host: maintenance %s: decode result: %w", op, err)
	}
	return m, nil
}

var _ Host = (*hostProxy)(nil)
