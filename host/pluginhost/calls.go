package pluginhost

import (
	"context"
	"strings"

	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/client"
)

// resolve finds the running plugin serving component name
// ("PLUGIN.COMPONENT") of the given kind, starting it if needed, and
// applies the call timeout when ctx has no deadline.
func (m *Manager) resolve(ctx context.Context, name string, kind sdk.Kind) (*proc, *liveConn, string, context.Context, context.CancelFunc, error) {
	pname, comp, ok := strings.Cut(name, ".")
	if !ok || pname == "" || comp == "" {
		return nil, nil, "", nil, nil, &sdk.Error{Code: sdk.CodeInvalid, Message: "plugins: " + name + ": want PLUGIN.COMPONENT"}
	}
	p := m.lookup(pname)
	if p == nil {
		return nil, nil, "", nil, nil, &sdk.Error{Code: sdk.CodeInvalid, Message: "plugin " + pname + ": not installed (no " + BinaryPrefix + pname + " in the plugin directories)"}
	}
	cancel := context.CancelFunc(func() {})
	if _, has := ctx.Deadline(); !has {
		ctx, cancel = context.WithTimeout(ctx, m.opts.CallTimeout)
	}
	lc := p.live.Load()
	if lc == nil {
		var err error
		if lc, err = p.ensure(ctx); err != nil {
			cancel()
			return nil, nil, "", nil, nil, err
		}
	}
	k, ok := lc.kinds[comp]
	if !ok {
		cancel()
		return nil, nil, "", nil, nil, p.errorf(sdk.CodeInvalid, false, "no component %q", comp)
	}
	if k != kind {
		cancel()
		return nil, nil, "", nil, nil, p.errorf(sdk.CodeInvalid, false, "component %s is a %s, not a %s", comp, k, kind)
	}
	if msg := lc.compErr[comp]; msg != "" {
		cancel()
		return nil, nil, "", nil, nil, p.errorf(sdk.CodeInvalid, false, "%s", msg)
	}
	return p, lc, comp, ctx, cancel, nil
}

// callError adds the plugin's name to transport failures.
func (p *proc) callError(err error) error {
	if err == nil || !client.IsTransport(err) {
		return err
	}
	e := sdk.AsError(err)
	out := &sdk.Error{Code: e.Code, Retryable: e.Retryable, Message: "plugin " + p.name + ": " + e.Message, Err: err}
	if e.Code == sdk.CodeUnavailable {
		p.mu.Lock()
		pc := p.pc
		p.mu.Unlock()
		if pc == nil || pc.Exited() {
			out.Message = "plugin " + p.name + ": not running: crashed during the call"
		}
	}
	return out
}

// RunAction runs the action name ("PLUGIN.COMPONENT"), starting the plugin
// on first use. Failures are *sdk.Error: the action's own classification,
// "timeout" for a passed deadline, "unavailable" when the plugin is not
// running ("plugin http: not running: restarting after crash (attempt 2)").
func (m *Manager) RunAction(ctx context.Context, name string, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	p, lc, comp, ctx, cancel, err := m.resolve(ctx, name, sdk.KindAction)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	defer cancel()
	req.Component = comp
	resp, err := lc.conn.RunAction(ctx, req)
	return resp, p.callError(err)
}

// Heal runs the healer name ("PLUGIN.COMPONENT").
func (m *Manager) Heal(ctx context.Context, name string, inc sdk.Incident) (sdk.Outcome, error) {
	p, lc, comp, ctx, cancel, err := m.resolve(ctx, name, sdk.KindHealer)
	if err != nil {
		return sdk.Outcome{}, err
	}
	defer cancel()
	out, err := lc.conn.Heal(ctx, comp, inc)
	return out, p.callError(err)
}

// ScaleCurrent asks the scaler name ("PLUGIN.COMPONENT") for the current
// count of a target.
func (m *Manager) ScaleCurrent(ctx context.Context, name string, t sdk.Target) (int, sdk.Diagnostics, error) {
	p, lc, comp, ctx, cancel, err := m.resolve(ctx, name, sdk.KindScaler)
	if err != nil {
		return 0, nil, err
	}
	defer cancel()
	n, diags, err := lc.conn.ScaleCurrent(ctx, comp, t)
	return n, diags, p.callError(err)
}

// Scale asks the scaler name ("PLUGIN.COMPONENT") to scale a target.
func (m *Manager) Scale(ctx context.Context, name string, t sdk.Target, desired int) (sdk.ScaleResult, error) {
	p, lc, comp, ctx, cancel, err := m.resolve(ctx, name, sdk.KindScaler)
	if err != nil {
		return sdk.ScaleResult{}, err
	}
	defer cancel()
	r, err := lc.conn.Scale(ctx, comp, t, desired)
	return r, p.callError(err)
}

// Scan runs the discovery component name ("PLUGIN.COMPONENT").
func (m *Manager) Scan(ctx context.Context, name string, s sdk.Scope) ([]sdk.Service, sdk.Diagnostics, error) {
	p, lc, comp, ctx, cancel, err := m.resolve(ctx, name, sdk.KindDiscovery)
	if err != nil {
		return nil, nil, err
	}
	defer cancel()
	svcs, diags, err := lc.conn.Scan(ctx, comp, s)
	return svcs, diags, p.callError(err)
}
