// Command heady-plugin-testp is a plugin used by the plugin host's tests:
// one component of every kind plus actions that exercise callbacks,
// deadlines and child processes.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/heady-dev/heady/sdk"
)

func main() {
	sdk.Serve(
		sdk.WithName("testp"),
		sdk.WithVersion("0.0.1"),
		sdk.WithAction(sdk.Spec{
			Name:        "echo",
			Description: "Echoes inputs with a prefix.",
			Config: sdk.Schema{Attributes: []sdk.Attribute{
				{Name: "prefix", Type: sdk.TypeString, Default: "", Description: "Prefix for the message."},
				{Name: "times", Type: sdk.TypeNumber, Default: 1, Description: "Repeat count."},
				{Name: "tags", Type: sdk.TypeStringList, Description: "Tags."},
				{Name: "timeout", Type: sdk.TypeDuration, Default: "1s", Description: "A duration."},
				{Name: "loud", Type: sdk.TypeBool, Default: false, Description: "Upper-case."},
			}},
		}, func() sdk.Action { return &echo{} }),
		sdk.WithAction(sdk.Spec{Name: "callbacks", Description: "Calls back into the host."}, func() sdk.Action { return &callbacks{} }),
		sdk.WithAction(sdk.Spec{Name: "block", Description: "Blocks until the deadline."}, func() sdk.Action { return &block{} }),
		sdk.WithAction(sdk.Spec{Name: "spawn", Description: "Starts a child process."}, func() sdk.Action { return &spawn{} }),
		sdk.WithHealer(sdk.Spec{Name: "fix", Description: "Heals everything."}, func() sdk.Healer { return &fix{} }),
		sdk.WithScaler(sdk.Spec{Name: "pool", Description: "An in-memory pool."}, func() sdk.Scaler { return &pool{n: 2} }),
		sdk.WithDiscovery(sdk.Spec{Name: "scan", Description: "Finds one service per target."}, func() sdk.Discoverer { return &scan{} }),
	)
}

type base struct{}

func (base) Configure(context.Context, map[string]any) error { return nil }
func (base) Close(context.Context) error                     { return nil }

type echo struct {
	base
	cfg sdk.Config
}

func (e *echo) Configure(_ context.Context, c map[string]any) error {
	e.cfg = c
	return nil
}

func (e *echo) Run(_ context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	msg := e.cfg.String("prefix") + sdk.Config(req.Inputs).String("msg")
	if e.cfg.Bool("loud") {
		msg = strings.ToUpper(msg)
	}
	if sdk.Config(req.Inputs).Bool("log") {
		sdk.Logger().Warn("echo asked to log", "msg", msg)
	}
	if sdk.Config(req.Inputs).Bool("fail") {
		return sdk.ActionResponse{}, sdk.Permanent(fmt.Errorf("asked to fail"))
	}
	return sdk.ActionResponse{Outputs: map[string]any{
		"msg": msg, "times": e.cfg.Number("timeout"), "timeout": e.cfg.Duration("timeout").String(),
		"pid": os.Getpid(), "idempotency_key": req.IdempotencyKey, "attempt": req.Attempt,
	}}, nil
}

type callbacks struct {
	base
	h sdk.Host
}

func (c *callbacks) Init(h sdk.Host) { c.h = h }

func (c *callbacks) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	if err := c.h.EmitEvent(ctx, "testp.hello", map[string]any{"n": 1.0}); err != nil {
		return sdk.ActionResponse{}, err
	}
	if err := c.h.KVPut(ctx, "k1", []byte("v1")); err != nil {
		return sdk.ActionResponse{}, err
	}
	if err := c.h.KVPut(ctx, "k2", []byte("v2")); err != nil {
		return sdk.ActionResponse{}, err
	}
	if err := c.h.KVDelete(ctx, "k2"); err != nil {
		return sdk.ActionResponse{}, err
	}
	v, err := c.h.KVGet(ctx, "k1")
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	_, missErr := c.h.KVGet(ctx, "nope")
	keys, err := c.h.KVList(ctx, "k")
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	if err := c.h.Log(ctx, slog.LevelWarn, "hello from testp", map[string]any{"x": "y"}); err != nil {
		return sdk.ActionResponse{}, err
	}
	met, err := c.h.Metrics(ctx)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	id, err := c.h.RunWorkflow(ctx, "wf", map[string]any{"a": "b"})
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	res, err := c.h.Maintenance(ctx, "store.gc", map[string]any{"ratio": 0.5})
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	return sdk.ActionResponse{Outputs: map[string]any{
		"k1": string(v), "missing_is_not_found": missErr == sdk.ErrNotFound, "keys": keys,
		"cpu": met["cpu"], "execution_id": id, "maintenance": res,
	}}, nil
}

type block struct{ base }

func (block) Run(ctx context.Context, _ sdk.ActionRequest) (sdk.ActionResponse, error) {
	<-ctx.Done()
	return sdk.ActionResponse{}, ctx.Err()
}

type spawn struct{ base }

func (spawn) Run(_ context.Context, _ sdk.ActionRequest) (sdk.ActionResponse, error) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		return sdk.ActionResponse{}, err
	}
	go func() { _ = cmd.Wait() }()
	return sdk.ActionResponse{Outputs: map[string]any{"child": cmd.Process.Pid, "pid": os.Getpid()}}, nil
}

type fix struct{ base }

func (fix) Heal(ctx context.Context, inc sdk.Incident) (sdk.Outcome, error) {
	sdk.Warn(ctx, "healed by test", inc.Check)
	return sdk.Outcome{Healed: true, Message: "fixed " + inc.Check, Details: map[string]any{"attempt": inc.Attempt}}, nil
}

type pool struct {
	base
	n int
}

func (p *pool) Current(context.Context, sdk.Target) (int, error) { return p.n, nil }

func (p *pool) Scale(_ context.Context, t sdk.Target, desired int) (sdk.ScaleResult, error) {
	p.n = desired
	return sdk.ScaleResult{Current: desired, Message: "scaled " + t.Name}, nil
}

type scan struct{ base }

func (scan) Scan(_ context.Context, s sdk.Scope) ([]sdk.Service, error) {
	var out []sdk.Service
	for _, t := range s.Targets {
		out = append(out, sdk.Service{ID: t, Name: t, Kind: "http", Address: t, Health: "healthy"})
	}
	return out, nil
}
