package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pluginpb "github.com/heady-dev/heady/sdk/proto"
)

// server is the plugin side of the Plugin gRPC service.
type server struct {
	pluginpb.UnimplementedPluginServer
	manifest     Manifest
	manifestJSON []byte
	slots        map[string]*slot
	broker       *plugin.GRPCBroker
	host         *hostProxy
}

type slot struct {
	spec    Spec
	kind    Kind
	factory func() Component
	cur     atomic.Pointer[instance]
	mu      sync.Mutex // serialises Configure
}

type instance struct {
	mu     sync.RWMutex
	closed bool
	comp   Component
}

func newServer(cfg *serveConfig) (*server, error) {
	m := cfg.manifest()
	if err := m.Validate(); err != nil {
		return nil, err
	}
	mj, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	s := &server{manifest: m, manifestJSON: mj, slots: map[string]*slot{}, host: &hostProxy{}}
	for _, c := range cfg.components {
		s.slots[c.spec.Name] = &slot{spec: c.spec, kind: c.kind, factory: c.factory}
	}
	return s, nil
}

// grpcPlugin adapts server to go-plugin on the plugin side.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

func (p *grpcPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	p.srv.broker = b
	pluginpb.RegisterPluginServer(s, p.srv)
	return nil
}

func (p *grpcPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: the plugin side has no client")
}

func (s *server) Manifest(context.Context, *pluginpb.ManifestRequest) (*pluginpb.ManifestResponse, error) {
	return &pluginpb.ManifestResponse{Manifest: s.manifestJSON}, nil
}

func (s *server) Init(ctx context.Context, req *pluginpb.InitRequest) (*pluginpb.InitResponse, error) {
	if err := CheckCompatible(req.HostSdkVersion, Version); err != nil {
		return nil, err
	}
	if s.broker == nil {
		return nil, errors.New("init: no broker")
	}
	conn, err := s.broker.Dial(req.HostBrokerId)
	if err != nil {
		return nil, fmt.Errorf("init: dial host: %w", err)
	}
	s.host.set(pluginpb.NewHostClient(conn), conn)
	return &pluginpb.InitResponse{}, nil
}

func (s *server) slot(name string, kind Kind) (*slot, error) {
	sl := s.slots[name]
	if sl == nil {
		return nil, &Error{Code: CodeInvalid, Message: fmt.Sprintf("plugin %s: no component %q", s.manifest.Name, name)}
	}
	if sl.kind != kind {
		return nil, &Error{Code: CodeInvalid, Message: fmt.Sprintf("plugin %s: component %s is a %s, not a %s", s.manifest.Name, name, sl.kind, kind)}
	}
	return sl, nil
}

func (s *server) Configure(ctx context.Context, req *pluginpb.ConfigureRequest) (*pluginpb.ConfigureResponse, error) {
	sl := s.slots[req.Component]
	if sl == nil {
		return &pluginpb.ConfigureResponse{Error: toPBError(&Error{Code: CodeInvalid, Message: fmt.Sprintf("plugin %s: no component %q", s.manifest.Name, req.Component)})}, nil
	}
	var raw map[string]any
	if len(req.Config) > 0 {
		if err := json.Unmarshal(req.Config, &raw); err != nil {
			return &pluginpb.ConfigureResponse{Error: toPBError(&Error{Code: CodeInvalid, Message: "configure: decode config: " + err.Error()})}, nil
		}
	}
	cfg, diags := sl.spec.Config.ApplyDefaults(raw)
	if diags.HasErrors() {
		return &pluginpb.ConfigureResponse{Diagnostics: toPBDiags(diags), Error: toPBError(&Error{Code: CodeInvalid, Message: fmt.Sprintf("component %s: configure: %s", sl.spec.Name, diags.Error())})}, nil
	}
	sl.mu.Lock()
	defer sl.mu.Unlock()
	comp := sl.factory()
	if in, ok := comp.(Initializer); ok {
		in.Init(s.host)
	}
	ctx, col := withDiagnostics(ctx)
	err := safeCall(func() error { return comp.Configure(ctx, cfg) })
	diags = append(diags, col.take()...)
	if err != nil {
		_ = safeCall(func() error { return comp.Close(context.WithoutCancel(ctx)) })
		e := AsError(err)
		e = &Error{Code: e.Code, Message: fmt.Sprintf("component %s: configure: %s", sl.spec.Name, e.Message), Retryable: e.Retryable}
		return &pluginpb.ConfigureResponse{Diagnostics: toPBDiags(diags), Error: toPBError(e)}, nil
	}
	old := sl.cur.Swap(&instance{comp: comp})
	if old != nil {
		go old.close(context.WithoutCancel(ctx))
	}
	return &pluginpb.ConfigureResponse{Diagnostics: toPBDiags(diags)}, nil
}

// close waits for in-flight calls, then closes the component.
func (in *instance) close(ctx context.Context) {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return
	}
	in.closed = true
	in.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = safeCall(func() error { return in.comp.Close(cctx) })
}

// acquire returns the current instance read-locked; release with RUnlock.
func (sl *slot) acquire(plugin string) (*instance, error) {
	for {
		in := sl.cur.Load()
		if in == nil {
			return nil, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("plugin %s: component %s is not configured", plugin, sl.spec.Name), Retryable: true}
		}
		in.mu.RLock()
		if !in.closed {
			return in, nil
		}
		in.mu.RUnlock()
		if sl.cur.Load() == in {
			return nil, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("plugin %s: component %s is closed", plugin, sl.spec.Name), Retryable: true}
		}
	}
}

// closeAll closes every configured component (plugin shutdown).
func (s *server) closeAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, sl := range s.slots {
		if in := sl.cur.Swap(nil); in != nil {
			wg.Add(1)
			go func() { defer wg.Done(); in.close(ctx) }()
		}
	}
	wg.Wait()
	s.host.close()
}

func safeCall(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Code: "panic", Message: fmt.Sprintf("panic: %v\n%s", r, debug.Stack())}
		}
	}()
	return fn()
}

func (s *server) RunAction(ctx context.Context, req *pluginpb.ActionRequest) (*pluginpb.ActionResponse, error) {
	sl, err := s.slot(req.Component, KindAction)
	if err != nil {
		return &pluginpb.ActionResponse{Error: toPBError(AsError(err))}, nil
	}
	in, err := sl.acquire(s.manifest.Name)
	if err != nil {
		return &pluginpb.ActionResponse{Error: toPBError(AsError(err))}, nil
	}
	defer in.mu.RUnlock()
	areq := ActionRequest{
		Component:      req.Component,
		IdempotencyKey: req.IdempotencyKey,
		ExecutionID:    req.ExecutionId,
		Workflow:       req.Workflow,
		Step:           req.Step,
		Attempt:        int(req.Attempt),
	}
	if req.DeadlineUnixNano != 0 {
		areq.Deadline = time.Unix(0, req.DeadlineUnixNano)
	}
	if len(req.Inputs) > 0 {
		if err := json.Unmarshal(req.Inputs, &areq.Inputs); err != nil {
			return &pluginpb.ActionResponse{Error: toPBError(&Error{Code: CodeInvalid, Message: "decode inputs: " + err.Error()})}, nil
		}
	}
	ctx, col := withDiagnostics(ctx)
	var resp ActionResponse
	err = safeCall(func() error {
		var e error
		resp, e = in.comp.(Action).Run(ctx, areq)
		return e
	})
	out := &pluginpb.ActionResponse{}
	if resp.Outputs != nil {
		b, merr := json.Marshal(resp.Outputs)
		if merr != nil && err == nil {
			err = Permanent(fmt.Errorf("encode outputs: %w", merr))
		}
		out.Outputs = b
	}
	if len(resp.Logs) > 0 {
		out.Logs = make([]*pluginpb.LogEntry, len(resp.Logs))
		for i, l := range resp.Logs {
			out.Logs[i] = &pluginpb.LogEntry{TimeUnixNano: l.Time.UnixNano(), Level: l.Level, Message: l.Message}
		}
	}
	out.Diagnostics = toPBDiags(append(resp.Diagnostics, col.take()...))
	out.Error = toPBError(AsError(err))
	return out, nil
}

func (s *server) Heal(ctx context.Context, req *pluginpb.HealRequest) (*pluginpb.HealResponse, error) {
	sl, err := s.slot(req.Component, KindHealer)
	if err != nil {
		return &pluginpb.HealResponse{Error: toPBError(AsError(err))}, nil
	}
	in, err := sl.acquire(s.manifest.Name)
	if err != nil {
		return &pluginpb.HealResponse{Error: toPBError(AsError(err))}, nil
	}
	defer in.mu.RUnlock()
	var inc Incident
	if err := json.Unmarshal(req.Incident, &inc); err != nil {
		return &pluginpb.HealResponse{Error: toPBError(&Error{Code: CodeInvalid, Message: "decode incident: " + err.Error()})}, nil
	}
	ctx, col := withDiagnostics(ctx)
	var oc Outcome
	err = safeCall(func() error {
		var e error
		oc, e = in.comp.(Healer).Heal(ctx, inc)
		return e
	})
	diags := append(oc.Diagnostics, col.take()...)
	oc.Diagnostics = nil
	b, _ := json.Marshal(oc)
	return &pluginpb.HealResponse{Outcome: b, Diagnostics: toPBDiags(diags), Error: toPBError(AsError(err))}, nil
}

func (s *server) ScaleCurrent(ctx context.Context, req *pluginpb.ScaleCurrentRequest) (*pluginpb.ScaleCurrentResponse, error) {
	sl, err := s.slot(req.Component, KindScaler)
	if err != nil {
		return &pluginpb.ScaleCurrentResponse{Error: toPBError(AsError(err))}, nil
	}
	in, err := sl.acquire(s.manifest.Name)
	if err != nil {
		return &pluginpb.ScaleCurrentResponse{Error: toPBError(AsError(err))}, nil
	}
	defer in.mu.RUnlock()
	var t Target
	if err := json.Unmarshal(req.Target, &t); err != nil {
		return &pluginpb.ScaleCurrentResponse{Error: toPBError(&Error{Code: CodeInvalid, Message: "decode target: " + err.Error()})}, nil
	}
	ctx, col := withDiagnostics(ctx)
	var n int
	err = safeCall(func() error {
		var e error
		n, e = in.comp.(Scaler).Current(ctx, t)
		return e
	})
	return &pluginpb.ScaleCurrentResponse{Current: int64(n), Diagnostics: toPBDiags(col.take()), Error: toPBError(AsError(err))}, nil
}

func (s *server) Scale(ctx context.Context, req *pluginpb.ScaleRequest) (*pluginpb.ScaleResponse, error) {
	sl, err := s.slot(req.Component, KindScaler)
	if err != nil {
		return &pluginpb.ScaleResponse{Error: toPBError(AsError(err))}, nil
	}
	in, err := sl.acquire(s.manifest.Name)
	if err != nil {
		return &pluginpb.ScaleResponse{Error: toPBError(AsError(err))}, nil
	}
	defer in.mu.RUnlock()
	var t Target
	if err := json.Unmarshal(req.Target, &t); err != nil {
		return &pluginpb.ScaleResponse{Error: toPBError(&Error{Code: CodeInvalid, Message: "decode target: " + err.Error()})}, nil
	}
	ctx, col := withDiagnostics(ctx)
	var r ScaleResult
	err = safeCall(func() error {
		var e error
		r, e = in.comp.(Scaler).Scale(ctx, t, int(req.Desired))
		return e
	})
	diags := append(r.Diagnostics, col.take()...)
	r.Diagnostics = nil
	b, _ := json.Marshal(r)
	return &pluginpb.ScaleResponse{Result: b, Diagnostics: toPBDiags(diags), Error: toPBError(AsError(err))}, nil
}

func (s *server) Scan(ctx context.Context, req *pluginpb.ScanRequest) (*pluginpb.ScanResponse, error) {
	sl, err := s.slot(req.Component, KindDiscovery)
	if err != nil {
		return &pluginpb.ScanResponse{Error: toPBError(AsError(err))}, nil
	}
	in, err := sl.acquire(s.manifest.Name)
	if err != nil {
		return &pluginpb.ScanResponse{Error: toPBError(AsError(err))}, nil
	}
	defer in.mu.RUnlock()
	var sc Scope
	if err := json.Unmarshal(req.Scope, &sc); err != nil {
		return &pluginpb.ScanResponse{Error: toPBError(&Error{Code: CodeInvalid, Message: "decode scope: " + err.Error()})}, nil
	}
	ctx, col := withDiagnostics(ctx)
	var svcs []Service
	err = safeCall(func() error {
		var e error
		svcs, e = in.comp.(Discoverer).Scan(ctx, sc)
		return e
	})
	b, _ := json.Marshal(svcs)
	return &pluginpb.ScanResponse{Services: b, Diagnostics: toPBDiags(col.take()), Error: toPBError(AsError(err))}, nil
}

func toPBDiags(ds Diagnostics) []*pluginpb.Diagnostic {
	if len(ds) == 0 {
		return nil
	}
	out := make([]*pluginpb.Diagnostic, len(ds))
	for i, d := range ds {
		out[i] = &pluginpb.Diagnostic{Severity: string(d.Severity), Summary: d.Summary, Detail: d.Detail, Attribute: d.Attribute}
	}
	return out
}

func toPBError(e *Error) *pluginpb.Error {
	if e == nil {
		return nil
	}
	return &pluginpb.Error{Code: e.Code, Message: e.Error(), Retryable: e.Retryable}
}
