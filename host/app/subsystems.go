package app

import (
	"context"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/config"
)

// Subsystem is an engine the daemon runs beside the workflow engine:
// healing, scaling, discovery, intelligence. Each lives in its own file of
// this package and registers a factory with registerSubsystem in an init
// function, so adding one touches no other file.
//
// Lifecycle: the factory is called once the store, audit trail, plugin host
// and workflow engine exist; Start runs before the API listens and returns
// the start-up line to print; Reload receives every newly applied policy
// set; Stop runs in reverse order at shutdown, before the store closes.
type Subsystem interface {
	Name() string
	Start(ctx context.Context, pol *config.Policy) (line string, err error)
	Reload(ctx context.Context, pol *config.Policy) error
	Stop(ctx context.Context) error
}

// StatusContributor fills its section of GET /status.
type StatusContributor interface {
	ContributeStatus(ctx context.Context, st *api.Status)
}

// HealthContributor adds components and stats to GET /health.
type HealthContributor interface {
	ContributeHealth(ctx context.Context, h *api.Health)
}

var subsystemFactories []func(h *Host) Subsystem

// registerSubsystem adds a subsystem factory; call it from init.
func registerSubsystem(f func(h *Host) Subsystem) {
	subsystemFactories = append(subsystemFactories, f)
}

// startSubsystems creates and starts every registered subsystem in order.
func (h *Host) startSubsystems(ctx context.Context, pol *config.Policy) error {
	for _, f := range subsystemFactories {
		s := f(h)
		line, err := s.Start(ctx, pol)
		if err != nil {
			h.stopSubsystems(ctx)
			return err
		}
		h.subsystems = append(h.subsystems, s)
		if line != "" {
			h.linef("✅ %s", line)
		}
	}
	return nil
}

func (h *Host) reloadSubsystems(ctx context.Context, pol *config.Policy) error {
	for _, s := range h.subsystems {
		if err := s.Reload(ctx, pol); err != nil {
			return err
		}
	}
	return nil
}

// stopSubsystems stops the started subsystems in reverse order.
func (h *Host) stopSubsystems(ctx context.Context) []error {
	var errs []error
	for i := len(h.subsystems) - 1; i >= 0; i-- {
		if err := h.subsystems[i].Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	h.subsystems = nil
	return errs
}
