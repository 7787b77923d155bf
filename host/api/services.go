package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/auth"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/intelligence"
	"github.com/heady-dev/heady/host/pluginhost"
	"github.com/heady-dev/heady/host/workflow"
)

// Services are the host's parts the API serves. Nil parts answer 503.
type Services struct {
	Auth    *auth.Service
	Limiter *auth.Limiter
	Audit   *audit.Log
	Host    Host
	// Workflows is the workflow engine and event inbox.
	Workflows *workflow.Engine
	// Plugins is the plugin host.
	Plugins *pluginhost.Manager
	// Discovery is the discovery engine and the node registry.
	Discovery *DiscoveryServices
	// Intelligence is the learning engine (insights, suggestions, forecasts).
	Intelligence *intelligence.Engine
	// Healing is the self-healing engine and the service supervisor.
	Healing HealingService
	Scaling ScalingService // the auto-scaler and the metrics store (scaling.go)
	// Stream feeds GET /stream (nil: 503).
	Stream StreamSource
	// Mount, when set, adds handlers beside the API on the same app (the
	// web dashboard); it runs before the catch-all 404 handler.
	Mount func(app *fiber.App)
}

// Host is the running daemon as the API sees it.
type Host interface {
	// Policy is the policy set in force.
	Policy() *config.Policy
	// Reload rebuilds the policy set from disk and swaps it in when valid.
	Reload(ctx context.Context, actor, trigger string) ReloadResult
	// LastReload is the outcome of the most recent reload attempt.
	LastReload() ReloadResult
	// Status is the guide's status summary.
	Status(ctx context.Context) Status
	// Health is the health summary.
	Health(ctx context.Context) Health
}

// ReloadResult is the outcome of one reload attempt.
type ReloadResult struct {
	// Applied is true when the new set is now in force (false for an
	// invalid set and for an unchanged one).
	Applied         bool                `json:"applied"`
	Changed         bool                `json:"changed"`
	Valid           bool                `json:"valid"`
	Version         string              `json:"version"`
	PreviousVersion string              `json:"previous_version"`
	Trigger         string              `json:"trigger"`
	Time            time.Time           `json:"time"`
	Message         string              `json:"message"`
	Diagnostics     []config.Diagnostic `json:"diagnostics"`
}

// Status is the shape of GET /status, exactly as the guide shows it.
type Status struct {
	Workflows    WorkflowStatus     `json:"workflows"`
	Scaling      ScalingStatus      `json:"scaling"`
	Healing      Health             `json:"healing"`
	Intelligence IntelligenceStatus `json:"intelligence"`
	Discovery    DiscoveryStatus    `json:"discovery"`
	// Cluster is this server's view of the cluster (leader, term, commit
	// index, members); only in cluster mode, so a single server answers
	// exactly the guide's shape.
	Cluster any `json:"cluster,omitempty"`
}

// WorkflowStatus is the workflows section of the status.
type WorkflowStatus struct {
	Active   int `json:"active"`
	Triggers int `json:"triggers"`
}

// ScalingStatus is the scaling section of the status.
type ScalingStatus struct {
	CPU         float64 `json:"cpu"`
	Memory      float64 `json:"memory"`
	ActiveNodes int     `json:"active_nodes"`
}

// Health is the healing section of the status and the body of GET /health.
type Health struct {
	OverallStatus string            `json:"overall_status"`
	Components    []HealthComponent `json:"components"`
	Stats         HealthStats       `json:"stats"`
}

// HealthComponent is one checked component.
type HealthComponent struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Status    string    `json:"status"`
	Output    string    `json:"output"`
	LastCheck time.Time `json:"last_check"`
	Since     time.Time `json:"since"`
}

// HealthStats counts checks and healings.
type HealthStats struct {
	TotalChecks        int `json:"total_checks"`
	Healthy            int `json:"healthy"`
	SuccessfulHealings int `json:"successful_healings"`
	FailedHealings     int `json:"failed_healings"`
}

// IntelligenceStatus is the intelligence section of the status.
type IntelligenceStatus struct {
	LearnedPatterns       int `json:"learned_patterns"`
	PendingOptimizations  int `json:"pending_optimizations"`
	HighImpactSuggestions int `json:"high_impact_suggestions"`
}

// DiscoveryStatus is the discovery section of the status.
type DiscoveryStatus struct {
	Services int `json:"services"`
}
