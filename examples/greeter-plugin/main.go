// Command heady-plugin-greeter is an example Heady plugin written against
// the public sdk only, the way a plugin author outside the project would
// write one. It serves one action, greeter.hello, which greets a name and
// counts greetings per name in the plugin's own key space on the host.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/heady-dev/heady/sdk"
)

const version = "0.1.0"

func main() { sdk.Serve(Options()...) }

// Options describe the plugin; main passes them to sdk.Serve and the tests
// to plugintest.Start.
func Options() []sdk.Option {
	return []sdk.Option{
		sdk.WithName("greeter"),
		sdk.WithVersion(version),
		sdk.WithDescription("Greets people (an example plugin)."),
		sdk.WithAction(sdk.Spec{
			Name:        "hello",
			Description: "Returns a greeting for a name and how often that name was greeted.",
			Config: sdk.Schema{Attributes: []sdk.Attribute{
				{Name: "greeting", Type: sdk.TypeString, Default: "Hello", Description: "The word to greet with.", Example: `"Howdy"`},
				{Name: "shout", Type: sdk.TypeBool, Default: false, Description: "Upper-case the whole greeting.", Example: "true"},
			}},
			Inputs: sdk.Schema{Attributes: []sdk.Attribute{
				{Name: "name", Type: sdk.TypeString, Required: true, Description: "Who to greet.", Example: `"Ada"`},
			}},
			Outputs: sdk.Schema{Attributes: []sdk.Attribute{
				{Name: "message", Type: sdk.TypeString, Description: "The greeting."},
				{Name: "count", Type: sdk.TypeNumber, Description: "How many times this name has been greeted."},
			}},
		}, func() sdk.Action { return &Hello{} }),
	}
}

// Hello is the greeter.hello action.
type Hello struct {
	host     sdk.Host
	greeting string
	shout    bool
}

// Init receives the host callbacks.
func (h *Hello) Init(host sdk.Host) { h.host = host }

// Configure reads the decoded configuration (defaults already applied).
func (h *Hello) Configure(_ context.Context, config map[string]any) error {
	c := sdk.Config(config)
	h.greeting = strings.TrimSpace(c.String("greeting"))
	if h.greeting == "" {
		return fmt.Errorf("greeting must not be empty")
	}
	h.shout = c.Bool("shout")
	return nil
}

// Run greets inputs.name.
func (h *Hello) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	name := sdk.Config(req.Inputs).String("name")
	if name == "" {
		return sdk.ActionResponse{}, sdk.Permanent(fmt.Errorf("input name is required"))
	}
	msg := fmt.Sprintf("%s, %s!", h.greeting, name)
	if h.shout {
		msg = strings.ToUpper(msg)
	}
	var resp sdk.ActionResponse
	count, err := h.count(ctx, name)
	if err != nil {
		// Counting is a nicety: report it and still greet.
		sdk.Warn(ctx, "greeting not counted", err.Error())
	}
	resp.Log(slog.LevelInfo, "greeted "+name)
	resp.Outputs = map[string]any{"message": msg, "count": count}
	return resp, nil
}

// count increments the greeting counter of name in the plugin's key space.
func (h *Hello) count(ctx context.Context, name string) (int, error) {
	if h.host == nil {
		return 0, fmt.Errorf("no host")
	}
	key := "count/" + name
	n := 0
	b, err := h.host.KVGet(ctx, key)
	switch {
	case err == nil:
		n, _ = strconv.Atoi(string(b))
	case err != sdk.ErrNotFound:
		return 0, err
	}
	n++
	if err := h.host.KVPut(ctx, key, []byte(strconv.Itoa(n))); err != nil {
		return 0, err
	}
	return n, nil
}

// Close releases nothing; it is safe after a failed Configure.
func (h *Hello) Close(context.Context) error { return nil }

var (
	_ sdk.Action      = (*Hello)(nil)
	_ sdk.Initializer = (*Hello)(nil)
)
