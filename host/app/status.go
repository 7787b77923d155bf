package app

import (
	"context"
	"slices"
	"time"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/store"
)

// Status is the guide's status summary.
func (h *Host) Status(ctx context.Context) api.Status {
	var st api.Status
	ws := h.eng().Stats()
	st.Workflows = api.WorkflowStatus{Active: ws.ActiveWorkflows, Triggers: ws.Triggers}
	cpu, mem := h.sampler.current()
	st.Scaling = api.ScalingStatus{CPU: round1(cpu), Memory: round1(mem), ActiveNodes: 1}
	st.Healing = h.Health(ctx)
	for _, s := range h.subsystems {
		if c, ok := s.(StatusContributor); ok {
			c.ContributeStatus(ctx, &st)
		}
	}
	if h.cluster != nil {
		st.Cluster = h.cluster.node.Status()
	}
	return st
}

// Health checks the host's own parts.
func (h *Host) Health(ctx context.Context) api.Health {
	now := time.Now()
	comps := []api.HealthComponent{{
		Name: "api", Type: "api", Status: "healthy", Output: "listening on " + h.ln.Addr().String(), LastCheck: now, Since: h.started,
	}}
	if c, ok := h.clusterHealth(now); ok {
		comps = append(comps, c)
	}
	out := api.Health{OverallStatus: "healthy", Components: comps}
	for _, s := range h.subsystems {
		if c, ok := s.(HealthContributor); ok {
			c.ContributeHealth(ctx, &out)
		}
	}
	// The host probes the store itself only when no health check does: a
	// request must not write to the store when a check already reports it.
	if !slices.ContainsFunc(out.Components, func(c api.HealthComponent) bool { return c.Type == "store" }) {
		out.Components = append([]api.HealthComponent{h.storeProbe(ctx, now)}, out.Components...)
	}
	out.Stats.TotalChecks, out.Stats.Healthy = 0, 0
	for _, c := range out.Components {
		out.Stats.TotalChecks++
		if c.Status == "healthy" {
			out.Stats.Healthy++
		} else {
			out.OverallStatus = "unhealthy"
		}
	}
	return out
}

// storeProbe writes and reads back a probe key.
func (h *Host) storeProbe(ctx context.Context, now time.Time) api.HealthComponent {
	c := api.HealthComponent{Name: "store", Type: "store", LastCheck: now, Since: h.started}
	key := store.SpaceHealth + "probe"
	val := []byte(now.UTC().Format(time.RFC3339Nano))
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := h.store.Apply(pctx, store.Put(key, val)); err != nil {
		c.Status, c.Output = "unhealthy", "write probe failed: "+err.Error()
		return c
	}
	got, err := h.store.Get(key)
	if err != nil || string(got) != string(val) {
		c.Status, c.Output = "unhealthy", "read probe failed"
		return c
	}
	c.Status, c.Output = "healthy", "write and read probe ok"
	return c
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
