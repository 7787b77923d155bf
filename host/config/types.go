package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Policy is one complete, validated set of policy files. It is immutable once
// loaded; a reload builds a new Policy and swaps it in atomically.
type Policy struct {
	// Dir is the directory the set was loaded from.
	Dir string
	// Files lists every *.hcl file in load order with its content hash.
	Files []SourceFile
	// Version is a content hash over all files: equal versions mean an
	// unchanged set.
	Version string

	Host      Host
	Auth      Auth
	Cluster   Cluster
	Variables map[string]*Variable
	Plugins   []*Plugin
	Workflows []*Workflow
	Checks    []*Check
	Services  []*Service
	Scaling   []*Scaling
	Discovery []*Discovery
	Webhooks  []*Webhook
	Alerts    []*Notifier
}

// SourceFile is one loaded policy file.
type SourceFile struct {
	Path string `json:"path"`
	Hash string `json:"sha256"`
	// Bytes is the file content (kept for diagnostics snippets).
	Bytes []byte `json:"-"`
}

// Host is the `host {}` block. Command-line flags override it.
type Host struct {
	Name       string   // node name; defaults to the hostname
	Listen     string   // default ":3000"
	DataDir    string   // default "./data"
	PluginDirs []string // default ["./bin/plugins"]
	LogLevel   string   // debug|info|warn|error, default info
	LogFormat  string   // text|json, default text
	SyncWrites bool     // fsync with group commit before acknowledging
	// AuditRetention is how long audit entries are kept; 0 keeps them forever.
	AuditRetention time.Duration
	// MetricsRetention is the TTL of metric samples, default 168h.
	MetricsRetention time.Duration
	// HistoryMaxAge and HistoryMaxCount bound execution history
	// (pruned by auto_optimize). Zero means unlimited.
	HistoryMaxAge   time.Duration
	HistoryMaxCount int
	// BodyLimit caps API request bodies in bytes (default 1 MiB).
	BodyLimit int
	// RequestTimeout bounds API handlers (default 30s).
	RequestTimeout time.Duration
	// Workers caps concurrent workflow step calls (default 16×CPU, min 64).
	Workers int
	// EventQueue is the maximum of accepted but not yet dispatched events
	// before the API answers 429/503 (default 100000).
	EventQueue int
	// AppURL is the base URL of the user's application that the built-in
	// event workflows call (default "http://127.0.0.1:8090").
	AppURL string

	DeclRange hcl.Range
}

// Cluster is the `cluster {}` block: several servers replicating state
// with Raft. Without the block (and without --server) Heady runs as a
// single server.
type Cluster struct {
	// Enabled is true when the block is present (or --server is given).
	Enabled bool
	// Bind is the cluster listener for Raft and server RPCs (default
	// "127.0.0.1:7946").
	Bind string
	// Advertise is the address other servers dial and this server's ID
	// (default: Bind).
	Advertise string
	// Join lists the other servers' cluster addresses.
	Join []string
	// Bootstrap starts a one-server cluster that others join later.
	Bootstrap bool
	// Key is the shared cluster key (at least 16 bytes) every server
	// proves on each connection; HEADY_CLUSTER_KEY overrides it.
	Key string
	// HeartbeatTimeout and ElectionTimeout tune failure detection
	// (default 500ms each).
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// Labels are this server's node labels: steps with node_labels run
	// only on workers (servers and agents) whose labels include theirs.
	Labels map[string]string

	DeclRange hcl.Range
}

// Auth is the `auth {}` block.
type Auth struct {
	// AnonymousReads: "loopback" (default: anonymous GETs allowed only while
	// the listener is loopback), "always" or "never".
	AnonymousReads string
	// Lockout after LockoutThreshold failures within LockoutWindow, for
	// LockoutDuration. Defaults 10, 1m, 5m.
	LockoutThreshold int
	LockoutWindow    time.Duration
	LockoutDuration  time.Duration

	DeclRange hcl.Range
}

// Variable is a `variable "NAME" {}` block, referenced as var.NAME.
type Variable struct {
	Name        string
	Description string
	// Default is the declared default (cty.NilVal when none).
	Default cty.Value
	// Value is the effective value: Default or the override given when
	// loading.
	Value     cty.Value
	DeclRange hcl.Range
}

// Plugin is a `plugin "NAME" {}` block: where to find a plugin binary,
// how to verify it, and configuration for its components.
type Plugin struct {
	Name    string
	Path    string // optional explicit binary path
	SHA256  string // optional pin, lowercase hex
	Enabled bool   // default true
	// Components holds `component "NAME" { ... }` bodies, decoded later
	// against the schema the plugin declares.
	Components []*PluginComponent
	DeclRange  hcl.Range
}

// PluginComponent is a component configuration body inside a plugin block.
type PluginComponent struct {
	Name      string
	Body      hcl.Body
	DeclRange hcl.Range
}

// Workflow is a `workflow "NAME" {}` block.
type Workflow struct {
	Name        string
	Description string
	Enabled     bool // default true
	Triggers    []*Trigger
	Steps       []*Step
	OnFailure   []*Step
	Timeout     time.Duration // 0: none
	Retry       *Retry        // default retry for steps that declare none
	Concurrency Concurrency
	DeclRange   hcl.Range
}

// TriggerKind names what starts a workflow.
type TriggerKind string

// Trigger kinds.
const (
	TriggerSchedule TriggerKind = "schedule"
	TriggerEvent    TriggerKind = "event"
	TriggerWebhook  TriggerKind = "webhook"
	TriggerWorkflow TriggerKind = "workflow"
)

// Trigger is a `trigger "KIND" {}` block inside a workflow.
type Trigger struct {
	Kind TriggerKind

	// schedule
	Cron         string        // 5 or 6 fields (optional leading seconds); "@daily" etc.
	Every        time.Duration // "@every" style interval
	Timezone     string        // IANA name, default UTC
	CatchUp      string        // skip (default) | once | all
	CatchUpLimit int           // for "all", default 10

	// event
	EventType string         // glob: "user.*", "*"
	Condition hcl.Expression // optional, over event.*; nil when absent

	// webhook: the name of a webhook block
	Webhook string

	// workflow completion
	Workflow string
	On       string // success | failure | any (default success)

	DeclRange hcl.Range
}

// Retry is a `retry {}` block.
type Retry struct {
	Attempts     int           // total attempts including the first, default 3
	InitialDelay time.Duration // default 1s
	MaxDelay     time.Duration // default 1m
	Multiplier   float64       // default 2
	Jitter       float64       // 0..1, fraction of the delay, default 0.1
	// RetryOn lists error classes that are retried: "any" (default),
	// "transient", "timeout", or an error code returned by an action
	// (written "code:CODE" in policies, stored here without the prefix).
	RetryOn   []string
	DeclRange hcl.Range
}

// Concurrency is a workflow's `concurrency {}` block.
type Concurrency struct {
	Limit     int    // 0: unlimited
	Overflow  string // queue (default) | skip | cancel_previous
	QueueSize int    // for queue, default 1000
	DeclRange hcl.Range
}

// Step is a `step "NAME" {}` (or `on_failure "NAME" {}`) block.
type Step struct {
	Name        string
	Description string
	// Action names a plugin component: "PLUGIN.COMPONENT" (e.g. "http.request").
	Action    string
	DependsOn []string
	If        hcl.Expression // nil when absent
	ForEach   hcl.Expression // nil when absent
	// ForEachConcurrency caps parallel fan-out, default 4.
	ForEachConcurrency int
	Timeout            time.Duration // 0: host default (5m)
	Retry              *Retry        // nil: the workflow's
	// NodeLabels pins the step, in cluster mode, to workers whose labels
	// include all of these (run the backup on the node holding the data).
	NodeLabels map[string]string
	// Input holds the attributes of the step's `input {}` block as
	// unevaluated expressions over event.*, step.NAME.output.*, var.*,
	// each.*, env().
	Input      map[string]hcl.Expression
	InputRange hcl.Range
	DeclRange  hcl.Range
}

// Check is a `check "NAME" {}` block: a health check and its healing.
type Check struct {
	Name string
	// Type: http | tcp | exec | process | store | memory | disk | plugins
	Type                    string
	Interval                time.Duration // default 30s
	Timeout                 time.Duration // default 5s
	FailuresBeforeUnhealthy int           // default 3
	SuccessesBeforeHealthy  int           // default 1

	// http
	URL           string
	ExpectStatus  []int  // nil: any status 200-399
	BodyMatch     string // regular expression
	TLSSkipVerify bool
	// tcp
	Address string
	// exec
	Command []string
	// process: the supervised service
	Service string
	// memory / disk
	Path             string  // disk: any path on the filesystem
	ThresholdPercent float64 // unhealthy above this usage
	ThresholdBytes   int64   // memory: per-process RSS limit

	// Heal lists healing strategies tried in order (escalation).
	Heal      []*HealStep
	DeclRange hcl.Range
}

// HealStep is a `heal "STRATEGY" {}` block inside a check. Strategy names a
// healer component ("restart", "clear_caches", "run_workflow", "recycle",
// "exec", "wait_retry", "alert") or "PLUGIN.COMPONENT".
type HealStep struct {
	Strategy string
	// Options are the remaining attributes, decoded against the healer's
	// schema.
	Options   hcl.Body
	DeclRange hcl.Range
}

// Service is a `service "NAME" {}` block: a process Heady supervises.
type Service struct {
	Name        string
	Command     []string // argv, never a shell line
	Env         map[string]string
	Dir         string
	StopSignal  string        // default SIGTERM
	StopTimeout time.Duration // grace period, default 10s
	Restart     string        // always (default) | on_failure | never
	// Restart budget: at most MaxRestarts within Window, then the service is
	// marked failed and retried after RetryAfter.
	MaxRestarts int           // default 5
	Window      time.Duration // default 10m
	RetryAfter  time.Duration // default 30m
	LogFile     string        // optional; default DATA/logs/NAME.log
	Port        int           // optional, informational / for checks
	DependsOn   []string
	Labels      map[string]string
	DeclRange   hcl.Range
}

// Scaling is a `scaling "NAME" {}` block.
type Scaling struct {
	Name string
	// Backend names a scaler component ("process_pool", "exec", "webhook",
	// or "PLUGIN.COMPONENT"): the label of the `backend "NAME" {}` block.
	// Empty only for a dry-run policy without a backend block.
	Backend string
	Mode    string // threshold (default) | target
	Min     int    // default 1
	Max     int    // default 10
	Step    int    // default 1
	// Cooldown applies to both directions unless CooldownUp/Down are set.
	Cooldown            time.Duration // default 5m
	CooldownUp          time.Duration
	CooldownDown        time.Duration
	StabilizationWindow time.Duration // scale-down window, default 5m
	EvaluationInterval  time.Duration // default 10m
	MissingMetric       string        // hold (default) | scale_up | fail
	DryRun              bool
	Predictive          bool
	ActiveHours         *ActiveHours
	Metrics             []*ScalingMetric
	// BackendConfig is the `backend "NAME" {}` body, decoded against the
	// scaler's schema; nil when there is no backend block.
	BackendConfig hcl.Body
	DeclRange     hcl.Range
}

// ActiveHours limits when a scaling policy acts.
type ActiveHours struct {
	From     string // "HH:MM"
	To       string // "HH:MM"
	Timezone string
	Days     []string // mon..sun; empty: every day
}

// ScalingMetric is a `metric "NAME" {}` block inside scaling. NAME is cpu,
// memory, disk, requests_per_min or a custom metric name.
type ScalingMetric struct {
	Name      string
	ScaleUp   float64 // threshold mode
	ScaleDown float64 // threshold mode
	Target    float64 // target mode
	DeclRange hcl.Range
}

// Discovery is a `discovery "NAME" {}` block.
type Discovery struct {
	Name     string
	Protocol string        // http | mcp | mdns | local | PLUGIN.COMPONENT
	Enabled  bool          // default true
	Interval time.Duration // default 5m
	Targets  []string      // hosts or CIDRs (http), URLs (mcp)
	Ports    []int
	// Config is the remaining body, decoded against the discovery
	// component's schema.
	Config    hcl.Body
	DeclRange hcl.Range
}

// Webhook is a `webhook "NAME" {}` block: an inbound webhook at
// POST /api/v1/automation/hooks/NAME.
type Webhook struct {
	Name string
	// Secret enables HMAC-SHA256 verification of the body.
	Secret          string
	SignatureHeader string // default "X-Heady-Signature-256" ("sha256=HEX")
	// Token, when set, accepts "Authorization: Bearer TOKEN" instead.
	Token string
	// EventType is the type of the event the hook emits, default
	// "webhook.NAME".
	EventType string
	DeclRange hcl.Range
}

// Notifier is an `alert "NAME" {}` block: where alerts go.
type Notifier struct {
	Name      string
	Kind      string // log | webhook | email
	URL       string
	Secret    string
	To        []string
	From      string
	SMTP      string // host:port
	Username  string
	Password  string
	StartTLS  bool
	Remind    time.Duration // repeat an unresolved alert after this, default 1h
	DeclRange hcl.Range
}
