package workflow

import (
	"context"
	"errors"
	"time"
)

// Errors returned by the Engine API.
var (
	ErrNotFound  = errors.New("workflow: not found")
	ErrDisabled  = errors.New("workflow: disabled")
	ErrSkipped   = errors.New("workflow: skipped by concurrency policy")
	ErrQueueFull = errors.New("workflow: concurrency queue full")
	ErrStopped   = errors.New("workflow: engine stopped")
	ErrConflict  = errors.New("workflow: execution is not in a state that allows this")
)

// Status of an execution or a step.
type Status string

// Statuses. Executions use pending, running, succeeded, failed, cancelled;
// steps additionally use skipped.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
	StatusSkipped   Status = "skipped"
)

// Finished reports whether s is terminal.
func (s Status) Finished() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCancelled || s == StatusSkipped
}

// ActionRunner runs one step attempt of an action that is not in-process
// (a plugin component). A non-nil error is an infrastructure failure and is
// treated as transient (retryable).
type ActionRunner interface {
	RunAction(ctx context.Context, call ActionCall) (ActionResult, error)
}

// ActionFunc is an in-process action.
type ActionFunc func(ctx context.Context, call ActionCall) (ActionResult, error)

// ActionCall is one attempt of one step.
type ActionCall struct {
	// Action is "plugin.component", or "heady.NAME" for in-process actions.
	Action string
	Inputs map[string]any
	// IdempotencyKey is "EXECUTION/STEP/ATTEMPT" (STEP[KEY] inside a
	// for_each); a new attempt, also after a restart, gets a new key.
	IdempotencyKey string
	ExecutionID    string
	Workflow       string
	Step           string
	// Item is the for_each key of this call ("" outside for_each).
	Item    string
	Attempt int
	// NodeLabels, from the step, pins the call to workers whose labels
	// include all of these (cluster mode).
	NodeLabels map[string]string `json:",omitempty"`
}

// ActionResult is what an action returns. A non-empty ErrorCode or
// ErrorMessage is a failure of the action itself; Retryable marks it
// transient.
type ActionResult struct {
	Outputs      map[string]any
	Logs         []LogLine
	ErrorCode    string
	ErrorMessage string
	Retryable    bool
}

// LogLine is one log line of an attempt.
type LogLine struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level,omitempty"`
	Message string    `json:"message"`
}

// Auditor receives audit records (the audit engine adapts to this).
type Auditor interface {
	Record(ctx context.Context, r AuditRecord)
}

// AuditRecord is one audited fact.
type AuditRecord struct {
	Actor string
	// Action: workflow.execute, workflow.trigger, workflow.skipped,
	// execution.succeeded, execution.failed, execution.cancelled,
	// execution.cancel, execution.retry, webhook.rejected.
	Action       string
	ResourceType string // "workflow", "execution", "webhook"
	ResourceID   string
	Outcome      string // "success", "failure", "denied"
	Details      map[string]any
}

// TriggerInfo records what started an execution.
type TriggerInfo struct {
	// Kind: manual, schedule, event, webhook, workflow, retry.
	Kind        string    `json:"kind"`
	EventID     string    `json:"event_id,omitempty"`
	EventType   string    `json:"event_type,omitempty"`
	Actor       string    `json:"actor,omitempty"`
	RetryOf     string    `json:"retry_of,omitempty"`
	ScheduledAt time.Time `json:"scheduled_at,omitzero"`
}

// EventInfo is the event an execution sees as event.*.
type EventInfo struct {
	ID     string         `json:"id"`
	Type   string         `json:"type"`
	Source string         `json:"source,omitempty"`
	Time   time.Time      `json:"time"`
	Data   map[string]any `json:"data,omitempty"`
}

// ErrorInfo describes a failure.
type ErrorInfo struct {
	Step    string `json:"step,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Execution is one run of a workflow with its steps.
type Execution struct {
	ID            string      `json:"id"`
	Workflow      string      `json:"workflow"`
	PolicyVersion string      `json:"policy_version,omitempty"`
	Status        Status      `json:"status"`
	Trigger       TriggerInfo `json:"trigger"`
	Event         EventInfo   `json:"event"`
	CreatedAt     time.Time   `json:"created_at"`
	StartedAt     time.Time   `json:"started_at,omitzero"`
	EndedAt       time.Time   `json:"ended_at,omitzero"`
	Error         *ErrorInfo  `json:"error,omitempty"`
	// Steps lists the main steps then the on_failure steps that ran.
	Steps []*StepState `json:"steps,omitempty"`
}

// StepState is the state of one step within an execution.
type StepState struct {
	Name string `json:"name"`
	// Phase is "main" or "on_failure".
	Phase     string     `json:"phase"`
	Status    Status     `json:"status"`
	Output    any        `json:"output,omitempty"`
	Error     *ErrorInfo `json:"error,omitempty"`
	StartedAt time.Time  `json:"started_at,omitzero"`
	EndedAt   time.Time  `json:"ended_at,omitzero"`
	// ReusedFrom names the execution whose result this step reuses
	// (retry from the failed step).
	ReusedFrom string     `json:"reused_from,omitempty"`
	Attempts   []*Attempt `json:"attempts,omitempty"`
}

// Attempt is one attempt of a step (or of one for_each item).
type Attempt struct {
	Item           string         `json:"item,omitempty"`
	ItemIndex      int            `json:"item_index,omitempty"`
	Attempt        int            `json:"attempt"`
	IdempotencyKey string         `json:"idempotency_key"`
	Status         Status         `json:"status"`
	StartedAt      time.Time      `json:"started_at"`
	EndedAt        time.Time      `json:"ended_at,omitzero"`
	Inputs         map[string]any `json:"inputs,omitempty"`
	Outputs        map[string]any `json:"outputs,omitempty"`
	Error          *ErrorInfo     `json:"error,omitempty"`
	Logs           []LogLine      `json:"logs,omitempty"`
	// NextAttemptAt is set when a retry is scheduled.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// Interrupted marks an attempt that started but whose end was never
	// recorded (the host stopped); it is re-run and does not count
	// against the retry budget.
	Interrupted bool `json:"interrupted,omitempty"`
}

// ExecutionSummary is a row of List.
type ExecutionSummary struct {
	ID        string      `json:"id"`
	Workflow  string      `json:"workflow"`
	Status    Status      `json:"status"`
	Trigger   TriggerInfo `json:"trigger"`
	CreatedAt time.Time   `json:"created_at"`
	StartedAt time.Time   `json:"started_at,omitzero"`
	EndedAt   time.Time   `json:"ended_at,omitzero"`
	Error     *ErrorInfo  `json:"error,omitempty"`
}

// ListFilter selects executions, newest first.
type ListFilter struct {
	Workflow string
	Status   Status
	// Cursor is the "next" value of the previous page.
	Cursor string
	// Limit defaults to 50, at most 1000.
	Limit int
}

// WorkflowInfo describes a loaded workflow.
type WorkflowInfo struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Enabled     bool              `json:"enabled"`
	Triggers    []TriggerSummary  `json:"triggers"`
	Steps       []string          `json:"steps"`
	NextRun     time.Time         `json:"next_run,omitzero"`
	LastRun     *ExecutionSummary `json:"last_execution,omitempty"`
	Running     int               `json:"running"`
	Queued      int               `json:"queued"`
	Succeeded   int64             `json:"succeeded"`
	Failed      int64             `json:"failed"`
	Cancelled   int64             `json:"cancelled"`
}

// TriggerSummary is a trigger in human terms.
type TriggerSummary struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// Stats are engine totals (counts since the engine started).
type Stats struct {
	ActiveWorkflows int   `json:"active"`
	Triggers        int   `json:"triggers"`
	Running         int   `json:"running"`
	Queued          int   `json:"queued"`
	Succeeded       int64 `json:"succeeded"`
	Failed          int64 `json:"failed"`
	Cancelled       int64 `json:"cancelled"`
	EventsPending   int   `json:"events_pending"`
}

// Update is a live progress notification, delivered after the transition it
// describes is durable.
type Update struct {
	ExecutionID string `json:"execution_id"`
	Workflow    string `json:"workflow"`
	// Step is empty for execution-level transitions.
	Step    string     `json:"step,omitempty"`
	Item    string     `json:"item,omitempty"`
	Attempt int        `json:"attempt,omitempty"`
	Status  Status     `json:"status"`
	Time    time.Time  `json:"time"`
	Error   *ErrorInfo `json:"error,omitempty"`
}
