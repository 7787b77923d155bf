// Command heady-plugin-noop is the noop plugin: an action, noop.ok, that
// returns its inputs as its outputs. The host's benchmarks and the engine
// tests use it to measure and exercise the plugin path without side
// effects.
package main

import (
	"context"

	"github.com/heady-dev/heady/sdk"
)

// Version is the plugin's version.
const Version = "1.0.0"

func main() { sdk.Serve(Options()...) }

// Options are the sdk.Serve options of heady-plugin-noop.
func Options() []sdk.Option {
	return []sdk.Option{
		sdk.WithName("noop"),
		sdk.WithVersion(Version),
		sdk.WithDescription("Does nothing, fast: for benchmarks and tests."),
		sdk.WithAction(sdk.Spec{
			Name:        "ok",
			Description: "Returns its inputs as its outputs.",
			Inputs: sdk.Schema{Attributes: []sdk.Attribute{
				{Name: "value", Type: sdk.TypeAny, Description: "Any value; echoed back.", Example: `"hello"`},
			}},
		}, func() sdk.Action { return &OK{} }),
	}
}

// OK is the noop.ok action.
type OK struct{}

// Configure accepts the empty configuration.
func (*OK) Configure(context.Context, map[string]any) error { return nil }

// Run echoes the inputs.
func (*OK) Run(_ context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	return sdk.ActionResponse{Outputs: req.Inputs}, nil
}

// Close does nothing.
func (*OK) Close(context.Context) error { return nil }

var _ sdk.Action = (*OK)(nil)
