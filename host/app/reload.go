package app

import (
	"context"
	"fmt"
	"time"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/config"
)

// Policy is the policy set in force.
func (h *Host) Policy() *config.Policy { return h.policy.Load() }

// LastReload is the outcome of the most recent reload attempt.
func (h *Host) LastReload() api.ReloadResult {
	if r := h.lastReload.Load(); r != nil {
		return *r
	}
	p := h.policy.Load()
	return api.ReloadResult{Applied: true, Valid: true, Version: p.Version, Trigger: "start", Time: h.started,
		Message: "loaded at start-up", Diagnostics: []config.Diagnostic{}}
}

// Reload builds and validates the whole policy set, then swaps it in
// atomically. An unchanged set is a no-op; an invalid set changes nothing.
// Reloads are serialised.
func (h *Host) Reload(ctx context.Context, actor, trigger string) api.ReloadResult {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	old := h.policy.Load()
	res := api.ReloadResult{Trigger: trigger, Time: time.Now(), PreviousVersion: old.Version, Diagnostics: []config.Diagnostic{}}
	pol, diags := h.load()
	if !diags.HasErrors() {
		diags = append(diags, h.plugins.Validate(pol.Plugins)...)
		diags = append(diags, h.plugins.ValidateUses(pol)...)
	}
	res.Diagnostics = append(res.Diagnostics, config.DiagnosticsJSON(diags)...)
	switch {
	case diags.HasErrors():
		res.Valid = false
		res.Version = old.Version
		res.Message = fmt.Sprintf("policies are invalid (%d errors); the previous set (version %s) keeps running", len(diags.Errs()), short(old.Version))
		for _, d := range res.Diagnostics {
			h.log.Error("policy reload rejected", "file", d.File, "line", d.Line, "column", d.Column, "summary", d.Summary, "detail", d.Detail)
		}
	case pol.Version == old.Version:
		res.Valid = true
		res.Version = old.Version
		res.Message = "policies unchanged"
		h.log.Debug("policy reload: unchanged", "version", old.Version)
	default:
		if err := h.applyPolicy(ctx, pol); err != nil {
			res.Valid = false
			res.Version = old.Version
			res.Message = fmt.Sprintf("policies could not be applied: %v; the previous set keeps running", err)
			h.log.Error("policy reload failed", "err", err)
			break
		}
		h.policy.Store(pol)
		res.Valid, res.Applied, res.Changed = true, true, true
		res.Version = pol.Version
		res.Message = fmt.Sprintf("policies reloaded: version %s → %s", short(old.Version), short(pol.Version))
		h.log.Info("policy reloaded", "version", pol.Version, "previous", old.Version, "trigger", trigger)
	}
	h.lastReload.Store(&res)
	if trigger != "api" && (res.Changed || !res.Valid) {
		outcome := "success"
		details := map[string]any{"trigger": trigger, "previous_version": res.PreviousVersion, "message": res.Message}
		if !res.Valid {
			outcome = "failure"
			details["diagnostics"] = res.Diagnostics
		}
		h.systemAudit(ctx, "policy.reload", "policy", res.Version, outcome, details)
	}
	if res.Changed || !res.Valid {
		h.emitHostEvent(ctx, "policy.reloaded", map[string]any{"applied": res.Applied, "version": res.Version,
			"previous_version": res.PreviousVersion, "trigger": trigger, "errors": len(res.Diagnostics)})
	}
	return res
}

// applyPolicy hands a validated set to every subsystem. A subsystem that
// refuses it aborts the swap.
func (h *Host) applyPolicy(ctx context.Context, p *config.Policy) error {
	if diags := h.plugins.Apply(ctx, p.Plugins); diags.HasErrors() {
		return fmt.Errorf("plugins: %s", diags.Error())
	}
	if err := h.eng().SetPolicy(p); err != nil {
		h.log.Warn("some workflows were not loaded", "err", err)
	}
	return h.reloadSubsystems(ctx, p)
}
