// Package client is the host's side of the plugin protocol: a typed view of
// a running plugin process (dispensed by go-plugin) and the server for the
// host callbacks that plugins make over the broker. The Heady host and
// sdk/plugintest both use it; plugin authors normally do not.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heady-dev/heady/sdk"
	pluginpb "github.com/heady-dev/heady/sdk/proto"
)

// PluginSet is the go-plugin plugin set for a ClientConfig.
func PluginSet() plugin.PluginSet {
	return plugin.PluginSet{sdk.PluginMapKey: &grpcPlugin{}}
}

type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (grpcPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("client: the host side has no plugin server")
}

func (grpcPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return &Conn{c: pluginpb.NewPluginClient(cc), broker: b}, nil
}

// Conn is a typed connection to one plugin process. It is safe for
// concurrent use. Every method makes exactly one RPC.
type Conn struct {
	c      pluginpb.PluginClient
	broker *plugin.GRPCBroker
}

// Dispense returns the Conn of a started go-plugin client.
func Dispense(pc *plugin.Client) (*Conn, error) {
	proto, err := pc.Client()
	if err != nil {
		return nil, err
	}
	raw, err := proto.Dispense(sdk.PluginMapKey)
	if err != nil {
		return nil, err
	}
	c, ok := raw.(*Conn)
	if !ok {
		return nil, fmt.Errorf("client: dispensed %T, want *client.Conn", raw)
	}
	return c, nil
}

// Manifest asks the plugin for its manifest.
func (c *Conn) Manifest(ctx context.Context) (sdk.Manifest, error) {
	r, err := c.c.Manifest(ctx, &pluginpb.ManifestRequest{})
	if err != nil {
		return sdk.Manifest{}, transportError(ctx, err)
	}
	var m sdk.Manifest
	if err := json.Unmarshal(r.Manifest, &m); err != nil {
		return sdk.Manifest{}, fmt.Errorf("manifest: %w", err)
	}
	return m, nil
}

// Init serves host on the broker and tells the plugin where to find it.
// It is called once per plugin process, before Configure.
func (c *Conn) Init(ctx context.Context, pluginName string, host sdk.Host) error {
	id := c.broker.NextId()
	go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(opts...)
		pluginpb.RegisterHostServer(s, NewHostServer(host))
		return s
	})
	if _, err := c.c.Init(ctx, &pluginpb.InitRequest{HostBrokerId: id, HostSdkVersion: sdk.Version, PluginName: pluginName}); err != nil {
		return transportError(ctx, err)
	}
	return nil
}

// Configure (re)configures one component. config should already carry the
// schema's defaults; the plugin applies them again regardless.
func (c *Conn) Configure(ctx context.Context, component string, config map[string]any) (sdk.Diagnostics, error) {
	b, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("configure %s: encode config: %w", component, err)
	}
	r, err := c.c.Configure(ctx, &pluginpb.ConfigureRequest{Component: component, Config: b})
	if err != nil {
		return nil, transportError(ctx, err)
	}
	return diagsFromProto(r.Diagnostics), errFromProto(r.Error)
}

// RunAction runs an action. A failure of the action is an *sdk.Error; so is
// a failed transport (code "unavailable" or "timeout").
func (c *Conn) RunAction(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	preq := &pluginpb.ActionRequest{
		Component:      req.Component,
		IdempotencyKey: req.IdempotencyKey,
		ExecutionId:    req.ExecutionID,
		Workflow:       req.Workflow,
		Step:           req.Step,
		Attempt:        int32(req.Attempt),
	}
	dl := req.Deadline
	if d, ok := ctx.Deadline(); ok && (dl.IsZero() || d.Before(dl)) {
		dl = d
	}
	if !dl.IsZero() {
		preq.DeadlineUnixNano = dl.UnixNano()
	}
	if req.Inputs != nil {
		b, err := json.Marshal(req.Inputs)
		if err != nil {
			return sdk.ActionResponse{}, &sdk.Error{Code: sdk.CodeInvalid, Message: "encode inputs: " + err.Error(), Err: err}
		}
		preq.Inputs = b
	}
	r, err := c.c.RunAction(ctx, preq)
	if err != nil {
		return sdk.ActionResponse{}, transportError(ctx, err)
	}
	var resp sdk.ActionResponse
	if len(r.Outputs) > 0 {
		if err := json.Unmarshal(r.Outputs, &resp.Outputs); err != nil {
			return resp, &sdk.Error{Code: sdk.CodeInvalid, Message: "decode outputs: " + err.Error(), Err: err}
		}
	}
	if len(r.Logs) > 0 {
		resp.Logs = make([]sdk.LogEntry, len(r.Logs))
		for i, l := range r.Logs {
			resp.Logs[i] = sdk.LogEntry{Time: time.Unix(0, l.TimeUnixNano), Level: l.Level, Message: l.Message}
		}
	}
	resp.Diagnostics = diagsFromProto(r.Diagnostics)
	return resp, errFromProto(r.Error)
}

// Heal runs a healer.
func (c *Conn) Heal(ctx context.Context, component string, inc sdk.Incident) (sdk.Outcome, error) {
	b, err := json.Marshal(inc)
	if err != nil {
		return sdk.Outcome{}, &sdk.Error{Code: sdk.CodeInvalid, Message: "encode incident: " + err.Error(), Err: err}
	}
	r, err := c.c.Heal(ctx, &pluginpb.HealRequest{Component: component, Incident: b})
	if err != nil {
		return sdk.Outcome{}, transportError(ctx, err)
	}
	var oc sdk.Outcome
	if len(r.Outcome) > 0 {
		if err := json.Unmarshal(r.Outcome, &oc); err != nil {
			return oc, &sdk.Error{Code: sdk.CodeInvalid, Message: "decode outcome: " + err.Error(), Err: err}
		}
	}
	oc.Diagnostics = diagsFromProto(r.Diagnostics)
	return oc, errFromProto(r.Error)
}

// ScaleCurrent asks a scaler for the current count of a target.
func (c *Conn) ScaleCurrent(ctx context.Context, component string, t sdk.Target) (int, sdk.Diagnostics, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return 0, nil, &sdk.Error{Code: sdk.CodeInvalid, Message: "encode target: " + err.Error(), Err: err}
	}
	r, err := c.c.ScaleCurrent(ctx, &pluginpb.ScaleCurrentRequest{Component: component, Target: b})
	if err != nil {
		return 0, nil, transportError(ctx, err)
	}
	return int(r.Current), diagsFromProto(r.Diagnostics), errFromProto(r.Error)
}

// Scale asks a scaler to scale a target to desired.
func (c *Conn) Scale(ctx context.Context, component string, t sdk.Target, desired int) (sdk.ScaleResult, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return sdk.ScaleResult{}, &sdk.Error{Code: sdk.CodeInvalid, Message: "encode target: " + err.Error(), Err: err}
	}
	r, err := c.c.Scale(ctx, &pluginpb.ScaleRequest{Component: component, Target: b, Desired: int64(desired)})
	if err != nil {
		return sdk.ScaleResult{}, transportError(ctx, err)
	}
	var res sdk.ScaleResult
	if len(r.Result) > 0 {
		if err := json.Unmarshal(r.Result, &res); err != nil {
			return res, &sdk.Error{Code: sdk.CodeInvalid, Message: "decode result: " + err.Error(), Err: err}
		}
	}
	res.Diagnostics = diagsFromProto(r.Diagnostics)
	return res, errFromProto(r.Error)
}

// Scan runs a discovery scan.
func (c *Conn) Scan(ctx context.Context, component string, s sdk.Scope) ([]sdk.Service, sdk.Diagnostics, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, nil, &sdk.Error{Code: sdk.CodeInvalid, Message: "encode scope: " + err.Error(), Err: err}
	}
	r, err := c.c.Scan(ctx, &pluginpb.ScanRequest{Component: component, Scope: b})
	if err != nil {
		return nil, nil, transportError(ctx, err)
	}
	var svcs []sdk.Service
	if len(r.Services) > 0 {
		if err := json.Unmarshal(r.Services, &svcs); err != nil {
			return nil, nil, &sdk.Error{Code: sdk.CodeInvalid, Message: "decode services: " + err.Error(), Err: err}
		}
	}
	return svcs, diagsFromProto(r.Diagnostics), errFromProto(r.Error)
}

// IsTransport reports whether err is a failure to reach the plugin (as
// opposed to a failure reported by the component).
func IsTransport(err error) bool {
	var te *transportErr
	return errors.As(err, &te)
}

type transportErr struct{ err error }

func (e *transportErr) Error() string { return e.err.Error() }
func (e *transportErr) Unwrap() error { return e.err }

// transportError classifies a gRPC failure as an *sdk.Error.
func transportError(ctx context.Context, err error) error {
	te := &transportErr{err: err}
	code := status.Code(err)
	switch {
	case code == codes.DeadlineExceeded || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return &sdk.Error{Code: sdk.CodeTimeout, Message: "deadline exceeded", Retryable: true, Err: te}
	case code == codes.Canceled || errors.Is(ctx.Err(), context.Canceled):
		return &sdk.Error{Code: sdk.CodeCanceled, Message: "canceled", Retryable: true, Err: te}
	}
	msg := err.Error()
	if s, ok := status.FromError(err); ok {
		msg = s.Message()
	}
	return &sdk.Error{Code: sdk.CodeUnavailable, Message: "plugin unreachable: " + msg, Retryable: true, Err: te}
}

func diagsFromProto(ps []*pluginpb.Diagnostic) sdk.Diagnostics {
	if len(ps) == 0 {
		return nil
	}
	out := make(sdk.Diagnostics, len(ps))
	for i, p := range ps {
		out[i] = sdk.Diagnostic{Severity: sdk.Severity(p.Severity), Summary: p.Summary, Detail: p.Detail, Attribute: p.Attribute}
	}
	return out
}

func errFromProto(p *pluginpb.Error) error {
	if p == nil {
		return nil
	}
	return &sdk.Error{Code: p.Code, Message: p.Message, Retryable: p.Retryable}
}
