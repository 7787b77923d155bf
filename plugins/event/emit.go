package main

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"

	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
)

// Version is the plugin's version.
const Version = "1.0.0"

const prefix = "plugin event: emit"

// InputSchema is the inputs of event.emit.
var InputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "type", Type: sdk.TypeString, Required: true, Description: "Event type, dotted lower case (\"order.shipped\").", Example: `"order.shipped"`},
	{Name: "data", Type: sdk.TypeAny, Description: "An object: the event's data (event.data in the triggered workflow).", Example: `{ order_id = event.data.id }`},
}}

// OutputSchema documents the outputs of event.emit.
var OutputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "type", Type: sdk.TypeString, Description: "The type emitted."},
}}

// Options are the sdk.Serve options of heady-plugin-event.
func Options() []sdk.Option {
	return []sdk.Option{
		sdk.WithName("event"),
		sdk.WithVersion(Version),
		sdk.WithDescription("Emits events into Heady's event bus."),
		sdk.WithAction(sdk.Spec{
			Name:        "emit",
			Description: "Publishes an event that can trigger workflows.",
			Inputs:      InputSchema,
			Outputs:     OutputSchema,
		}, func() sdk.Action { return &Emit{} }),
	}
}

// typeRE is what an event type looks like.
var typeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_\-]*(\.[a-z0-9_\-]+)*$`)

// Emit is the event.emit action.
type Emit struct {
	host sdk.Host
}

// Init receives the host.
func (e *Emit) Init(h sdk.Host) { e.host = h }

// Configure accepts the empty configuration.
func (e *Emit) Configure(context.Context, map[string]any) error { return nil }

// Run emits the event.
func (e *Emit) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	in, err := pluginutil.Inputs(prefix, InputSchema, req.Inputs)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	typ := in.String("type")
	if !typeRE.MatchString(typ) || len(typ) > 200 {
		return sdk.ActionResponse{}, pluginutil.Invalid("%s: type %q: want dotted lower-case words like \"order.shipped\"", prefix, typ)
	}
	var data map[string]any
	switch d := in["data"].(type) {
	case nil:
	case map[string]any:
		data = d
	default:
		return sdk.ActionResponse{}, pluginutil.Invalid("%s: data must be an object, got %T", prefix, d)
	}
	if e.host == nil {
		return sdk.ActionResponse{}, &sdk.Error{Code: sdk.CodeUnavailable, Message: prefix + ": no host connection", Retryable: true}
	}
	if err := e.host.EmitEvent(ctx, typ, data); err != nil {
		return sdk.ActionResponse{}, sdk.Retryable(fmt.Errorf("%s: %w", prefix, err))
	}
	resp := sdk.ActionResponse{Outputs: map[string]any{"type": typ}}
	resp.Log(slog.LevelInfo, "emitted "+typ)
	return resp, nil
}

// Close does nothing.
func (e *Emit) Close(context.Context) error { return nil }

var (
	_ sdk.Action      = (*Emit)(nil)
	_ sdk.Initializer = (*Emit)(nil)
)
