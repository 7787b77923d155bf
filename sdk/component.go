package sdk

import (
	"context"
	"log/slog"
	"time"
)

// Kind is the kind of a component.
type Kind string

// Component kinds.
const (
	KindAction    Kind = "action"
	KindHealer    Kind = "healer"
	KindScaler    Kind = "scaler"
	KindDiscovery Kind = "discovery"
)

// Component is the lifecycle every component implements:
//
//  1. the factory creates it;
//  2. Init(host), when the component implements Initializer;
//  3. Configure with the decoded configuration (defaults applied);
//  4. any number of concurrent calls (Run, Heal, ...);
//  5. Close, once.
//
// Configure may be called again on a fresh instance when the policy changes;
// the old instance is closed after its in-flight calls finish. Close is
// always called, also after a failed Configure, so it must be safe on a
// partially configured component.
type Component interface {
	Configure(ctx context.Context, config map[string]any) error
	Close(ctx context.Context) error
}

// Initializer is implemented by components that call back into the host.
// Init runs before Configure.
type Initializer interface {
	Init(host Host)
}

// Action runs one workflow step. Run may be called concurrently.
//
// Return an *Error (see Retryable, Permanent) to classify a failure; a plain
// error counts as retryable with code "error", a context deadline as code
// "timeout". The IdempotencyKey names the attempt: execution, step (and
// for_each item) and attempt number. Delivery is at-least-once per step, so
// an attempt interrupted by a crash is run again under the next attempt
// number; ExecutionID and Step together identify the step across attempts.
type Action interface {
	Component
	Run(ctx context.Context, req ActionRequest) (ActionResponse, error)
}

// Healer applies a healing strategy to an incident.
type Healer interface {
	Component
	Heal(ctx context.Context, inc Incident) (Outcome, error)
}

// Scaler reports and changes the instance count of a target.
type Scaler interface {
	Component
	Current(ctx context.Context, t Target) (int, error)
	Scale(ctx context.Context, t Target, desired int) (ScaleResult, error)
}

// Discoverer scans a scope and reports the services found.
type Discoverer interface {
	Component
	Scan(ctx context.Context, s Scope) ([]Service, error)
}

// Spec declares a component: its name (unique within the plugin), a
// description and its configuration schema (the plugin block's
// `component "NAME" {}` body, passed to Configure).
//
// Inputs is the schema of what each use passes: an action's step inputs
// (documentation only, they are evaluated at run time), a healer's heal
// block options (Incident.Options), a scaler's backend block
// (Target.Config), a discovery block's remaining attributes (Scope.Config).
// The host decodes the latter three against Inputs when it loads a policy.
// Outputs documents an action's outputs.
type Spec struct {
	Name        string
	Description string
	Config      Schema
	Inputs      Schema
	Outputs     Schema
}

// ActionRequest is one attempt of one workflow step.
type ActionRequest struct {
	// Component is the component's name within the plugin.
	Component string `json:"component"`
	// Inputs are the step's evaluated inputs.
	Inputs map[string]any `json:"inputs,omitempty"`
	// IdempotencyKey identifies this attempt: "EXECUTION/STEP/ATTEMPT".
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	ExecutionID    string `json:"execution_id,omitempty"`
	Workflow       string `json:"workflow,omitempty"`
	Step           string `json:"step,omitempty"`
	// Attempt counts from 1.
	Attempt int `json:"attempt,omitempty"`
	// Deadline is the step's deadline (zero: none). The context carries it
	// too.
	Deadline time.Time `json:"deadline,omitzero"`
}

// ActionResponse is the result of an action.
type ActionResponse struct {
	Outputs     map[string]any `json:"outputs,omitempty"`
	Logs        []LogEntry     `json:"logs,omitempty"`
	Diagnostics Diagnostics    `json:"diagnostics,omitempty"`
}

// Log appends a log line to the step's logs.
func (r *ActionResponse) Log(level slog.Level, msg string) {
	r.Logs = append(r.Logs, LogEntry{Time: time.Now(), Level: LevelString(level), Message: msg})
}

// LogEntry is one line of an action's log.
type LogEntry struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"` // debug | info | warn | error
	Message string    `json:"message"`
}

// Incident is what a healer is asked to heal.
type Incident struct {
	ID string `json:"id"`
	// Check is the name of the failing health check.
	Check string `json:"check"`
	// Component is the checked component (service name, URL, ...).
	Component string `json:"component,omitempty"`
	// Kind is the check type (http, tcp, process, memory, disk, ...).
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message,omitempty"`
	// Attempt counts healing attempts for this incident, from 1.
	Attempt int `json:"attempt,omitempty"`
	// Options are the heal block's attributes.
	Options map[string]any `json:"options,omitempty"`
}

// Outcome is the result of a healing attempt.
type Outcome struct {
	Healed      bool           `json:"healed"`
	Message     string         `json:"message,omitempty"`
	Details     map[string]any `json:"details,omitempty"`
	Diagnostics Diagnostics    `json:"diagnostics,omitempty"`
}

// Target is what a scaler scales.
type Target struct {
	// Name is the scaling policy's name.
	Name string `json:"name"`
	// Config is the scaling policy's backend block.
	Config map[string]any `json:"config,omitempty"`
}

// ScaleResult is the result of a Scale call.
type ScaleResult struct {
	Current     int         `json:"current"`
	Message     string      `json:"message,omitempty"`
	Diagnostics Diagnostics `json:"diagnostics,omitempty"`
}

// Scope is what a discoverer scans.
type Scope struct {
	// Name is the discovery policy's name.
	Name    string   `json:"name"`
	Targets []string `json:"targets,omitempty"`
	Ports   []int    `json:"ports,omitempty"`
	// Config is the rest of the discovery block.
	Config map[string]any `json:"config,omitempty"`
}

// Service is one discovered service.
type Service struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Kind     string            `json:"kind,omitempty"` // http | mcp | local | ...
	Address  string            `json:"address,omitempty"`
	URL      string            `json:"url,omitempty"`
	Port     int               `json:"port,omitempty"`
	Protocol string            `json:"protocol,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Metadata map[string]any    `json:"metadata,omitempty"`
	Health   string            `json:"health,omitempty"` // healthy | unhealthy | unknown
}
