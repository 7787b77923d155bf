package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
)

// Version is the plugin's version.
const Version = "1.0.0"

// Schemas of the heal blocks' options, per strategy.
var (
	RestartInputs = sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "service", Type: sdk.TypeString, Description: "The supervised service to restart; defaults to the check's service (process checks).", Example: `"api"`},
		{Name: "command", Type: sdk.TypeStringList, Description: "For a service Heady does not own: an argv that restarts it (no shell).", Example: `["systemctl", "restart", "nginx"]`},
		{Name: "url", Type: sdk.TypeString, Description: "For a service Heady does not own: an HTTP endpoint that restarts it (POST, 2xx expected).", Example: `"http://127.0.0.1:9000/admin/restart"`},
		{Name: "timeout", Type: sdk.TypeDuration, Default: "30s", Description: "Deadline of the command or HTTP call.", Example: `"10s"`},
	}}
	ClearCachesInputs = sdk.Schema{}
	RunWorkflowInputs = sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "workflow", Type: sdk.TypeString, Required: true, Description: "The workflow to run; it receives the incident as event.data.", Example: `"cleanup"`},
	}}
	RecycleInputs = sdk.Schema{}
	ExecInputs    = sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "command", Type: sdk.TypeStringList, Required: true, Description: "The argument vector, run by the plugin without a shell; exit status 0 counts as applied.", Example: `["/usr/local/bin/reset-queue", "--all"]`},
		{Name: "timeout", Type: sdk.TypeDuration, Default: "30s", Description: "Deadline; the process group is killed on expiry.", Example: `"1m"`},
	}}
	WaitRetryInputs = sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "attempts", Type: sdk.TypeNumber, Default: 3, Description: "Waits before escalating to the next strategy; the check runs again after each.", Example: "5"},
		{Name: "initial_delay", Type: sdk.TypeDuration, Default: "1s", Description: "First wait.", Example: `"500ms"`},
		{Name: "max_delay", Type: sdk.TypeDuration, Default: "30s", Description: "Longest wait.", Example: `"1m"`},
		{Name: "multiplier", Type: sdk.TypeNumber, Default: 2, Description: "Growth of the wait per attempt.", Example: "3"},
	}}
	AlertInputs = sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "severity", Type: sdk.TypeString, Default: "error", Description: "info, warning, error or critical.", Example: `"critical"`},
		{Name: "message", Type: sdk.TypeString, Description: "Text added to the alert.", Example: `"Page the on-call engineer."`},
	}}
)

// Options are the sdk.Serve options of heady-plugin-heal.
func Options() []sdk.Option {
	h := func(name, desc string, in sdk.Schema, f func() sdk.Healer) sdk.Option {
		return sdk.WithHealer(sdk.Spec{Name: name, Description: desc, Inputs: in}, f)
	}
	return []sdk.Option{
		sdk.WithName("heal"),
		sdk.WithVersion(Version),
		sdk.WithDescription("The built-in healing strategies of health checks."),
		h("restart", "Restarts a supervised service (within its restart budget), or a foreign one through a command or an HTTP call.", RestartInputs, func() sdk.Healer { return &Restart{} }),
		h("clear_caches", "Clears the host's caches, runs the garbage collector and returns memory to the operating system; reports the heap before and after.", ClearCachesInputs, func() sdk.Healer { return &hostOp{op: "caches.clear"} }),
		h("run_workflow", "Starts a workflow (for example a cleanup when the disk is full).", RunWorkflowInputs, func() sdk.Healer { return &RunWorkflow{} }),
		h("recycle", "Recycles connections: closes the host's idle HTTP connections and restarts plugin processes that do not answer.", RecycleInputs, func() sdk.Healer { return &hostOp{op: "connections.recycle"} }),
		h("exec", "Runs a command (argv, no shell).", ExecInputs, func() sdk.Healer { return &Exec{} }),
		h("wait_retry", "Waits with exponential backoff so that the check can run again (a locked database usually frees itself).", WaitRetryInputs, func() sdk.Healer { return &WaitRetry{} }),
		h("alert", "Raises an alert through the host's notifiers, once per incident, with reminders.", AlertInputs, func() sdk.Healer { return &Alert{} }),
	}
}

// base holds the host callback.
type base struct{ host sdk.Host }

func (b *base) Init(h sdk.Host)                                 { b.host = h }
func (b *base) Configure(context.Context, map[string]any) error { return nil }
func (b *base) Close(context.Context) error                     { return nil }

func (b *base) maintenance(ctx context.Context, op string, args map[string]any) (map[string]any, error) {
	if b.host == nil {
		return nil, errors.New("no host connection")
	}
	return b.host.Maintenance(ctx, op, args)
}

func inputs(name string, s sdk.Schema, inc sdk.Incident) (sdk.Config, error) {
	return pluginutil.Inputs("plugin heal: "+name, s, inc.Options)
}

// hostOp is a strategy carried out by the host: caches.clear,
// connections.recycle.
type hostOp struct {
	base
	op string
}

// Heal asks the host to perform the operation.
func (h *hostOp) Heal(ctx context.Context, inc sdk.Incident) (sdk.Outcome, error) {
	out, err := h.maintenance(ctx, h.op, map[string]any{"check": inc.Check, "incident": inc.ID})
	if err != nil {
		return sdk.Outcome{}, fmt.Errorf("plugin heal: %s: %w", h.op, err)
	}
	msg, _ := out["message"].(string)
	if msg == "" {
		msg = h.op + " done"
	}
	return sdk.Outcome{Healed: true, Message: msg, Details: out}, nil
}

// Restart restarts a service.
type Restart struct{ base }

// Heal restarts the service named by the options, the command or the URL.
func (r *Restart) Heal(ctx context.Context, inc sdk.Incident) (sdk.Outcome, error) {
	in, err := inputs("restart", RestartInputs, inc)
	if err != nil {
		return sdk.Outcome{}, err
	}
	switch {
	case len(in.Strings("command")) > 0:
		return runArgv(ctx, in.Strings("command"), in.Duration("timeout"))
	case in.String("url") != "":
		return postURL(ctx, in.String("url"), in.Duration("timeout"))
	}
	svc := in.String("service")
	if svc == "" && inc.Kind == "process" {
		svc = inc.Component
	}
	if svc == "" {
		return sdk.Outcome{}, pluginutil.Invalid("plugin heal: restart: no service: set service, command or url")
	}
	out, err := r.maintenance(ctx, "service.restart", map[string]any{"service": svc, "reason": "healing check " + inc.Check, "incident": inc.ID})
	if err != nil {
		return sdk.Outcome{}, fmt.Errorf("plugin heal: restart %s: %w", svc, err)
	}
	return sdk.Outcome{Healed: true, Message: "restarted service " + svc, Details: out}, nil
}

func runArgv(ctx context.Context, argv []string, timeout time.Duration) (sdk.Outcome, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	setProcessGroup(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	start := time.Now()
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if len(text) > 1024 {
		text = text[:1024] + "…"
	}
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	det := map[string]any{"exit_code": code, "output": text, "duration_ms": time.Since(start).Milliseconds()}
	if err != nil {
		return sdk.Outcome{Healed: false, Message: fmt.Sprintf("%s: %v", argv[0], err), Details: det}, nil
	}
	return sdk.Outcome{Healed: true, Message: argv[0] + ": exit status 0", Details: det}, nil
}

func postURL(ctx context.Context, url string, timeout time.Duration) (sdk.Outcome, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return sdk.Outcome{}, pluginutil.Invalid("plugin heal: restart: url: %v", err)
	}
	req.Header.Set("User-Agent", "heady-heal")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sdk.Outcome{Healed: false, Message: "POST " + url + ": " + err.Error()}, nil
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	det := map[string]any{"status": resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return sdk.Outcome{Healed: false, Message: fmt.Sprintf("POST %s: status %d", url, resp.StatusCode), Details: det}, nil
	}
	return sdk.Outcome{Healed: true, Message: fmt.Sprintf("POST %s: status %d", url, resp.StatusCode), Details: det}, nil
}

// RunWorkflow starts a workflow.
type RunWorkflow struct{ base }

// Heal starts the workflow with the incident as its input.
func (w *RunWorkflow) Heal(ctx context.Context, inc sdk.Incident) (sdk.Outcome, error) {
	in, err := inputs("run_workflow", RunWorkflowInputs, inc)
	if err != nil {
		return sdk.Outcome{}, err
	}
	if w.host == nil {
		return sdk.Outcome{}, errors.New("plugin heal: run_workflow: no host connection")
	}
	name := in.String("workflow")
	id, err := w.host.RunWorkflow(ctx, name, map[string]any{"check": inc.Check, "incident": inc.ID, "component": inc.Component,
		"kind": inc.Kind, "message": inc.Message, "attempt": inc.Attempt})
	if err != nil {
		return sdk.Outcome{}, fmt.Errorf("plugin heal: run_workflow %s: %w", name, err)
	}
	return sdk.Outcome{Healed: true, Message: "started workflow " + name, Details: map[string]any{"workflow": name, "execution_id": id}}, nil
}

// Exec runs a command.
type Exec struct{ base }

// Heal runs the command; exit status 0 counts as applied.
func (x *Exec) Heal(ctx context.Context, inc sdk.Incident) (sdk.Outcome, error) {
	in, err := inputs("exec", ExecInputs, inc)
	if err != nil {
		return sdk.Outcome{}, err
	}
	argv := in.Strings("command")
	if len(argv) == 0 {
		return sdk.Outcome{}, pluginutil.Invalid("plugin heal: exec: command is empty")
	}
	return runArgv(ctx, argv, in.Duration("timeout"))
}

// WaitRetry waits with backoff.
type WaitRetry struct{ base }

// Delay is the wait before the check's next run for this attempt.
func Delay(initial, maxDelay time.Duration, mult float64, attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if mult < 1 {
		mult = 1
	}
	d := float64(initial) * math.Pow(mult, float64(attempt-1))
	if d > float64(maxDelay) {
		return maxDelay
	}
	return time.Duration(d)
}

// Heal waits; the engine's next check run tells whether the problem went
// away.
func (w *WaitRetry) Heal(ctx context.Context, inc sdk.Incident) (sdk.Outcome, error) {
	in, err := inputs("wait_retry", WaitRetryInputs, inc)
	if err != nil {
		return sdk.Outcome{}, err
	}
	d := Delay(in.Duration("initial_delay"), in.Duration("max_delay"), in.Number("multiplier"), inc.Attempt)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return sdk.Outcome{}, ctx.Err()
	}
	return sdk.Outcome{Healed: true, Message: fmt.Sprintf("waited %s before retrying", d), Details: map[string]any{"waited_ms": d.Milliseconds()}}, nil
}

// Alert raises an alert.
type Alert struct{ base }

// Heal raises the alert; it heals nothing, so the outcome says "notified".
func (a *Alert) Heal(ctx context.Context, inc sdk.Incident) (sdk.Outcome, error) {
	in, err := inputs("alert", AlertInputs, inc)
	if err != nil {
		return sdk.Outcome{}, err
	}
	msg := inc.Message
	if extra := in.String("message"); extra != "" {
		msg = extra + " " + msg
	}
	out, err := a.maintenance(ctx, "alert.raise", map[string]any{"check": inc.Check, "incident": inc.ID, "severity": in.String("severity"),
		"title": "Heady: check " + inc.Check + " is unhealthy", "message": msg})
	if err != nil {
		return sdk.Outcome{}, fmt.Errorf("plugin heal: alert: %w", err)
	}
	det := map[string]any{"notified": true}
	for k, v := range out {
		det[k] = v
	}
	return sdk.Outcome{Healed: false, Message: "alert raised", Details: det}, nil
}

// Interface guards.
var (
	_ sdk.Healer      = (*hostOp)(nil)
	_ sdk.Healer      = (*Restart)(nil)
	_ sdk.Healer      = (*RunWorkflow)(nil)
	_ sdk.Healer      = (*Exec)(nil)
	_ sdk.Healer      = (*WaitRetry)(nil)
	_ sdk.Healer      = (*Alert)(nil)
	_ sdk.Initializer = (*base)(nil)
)
