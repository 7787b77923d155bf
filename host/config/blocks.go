package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func attrSchema(names ...string) []hcl.AttributeSchema {
	out := make([]hcl.AttributeSchema, 0, len(names))
	for _, n := range names {
		req := strings.HasSuffix(n, "!")
		out = append(out, hcl.AttributeSchema{Name: strings.TrimSuffix(n, "!"), Required: req})
	}
	return out
}

var (
	topSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "host"},
		{Type: "auth"},
		{Type: "cluster"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "plugin", LabelNames: []string{"name"}},
		{Type: "workflow", LabelNames: []string{"name"}},
		{Type: "check", LabelNames: []string{"name"}},
		{Type: "service", LabelNames: []string{"name"}},
		{Type: "scaling", LabelNames: []string{"name"}},
		{Type: "discovery", LabelNames: []string{"name"}},
		{Type: "webhook", LabelNames: []string{"name"}},
		{Type: "alert", LabelNames: []string{"name"}},
	}}
	variableSchema = &hcl.BodySchema{Attributes: attrSchema("description", "default")}
	hostSchema     = &hcl.BodySchema{Attributes: attrSchema("name", "listen", "data_dir", "plugin_dirs",
		"log_level", "log_format", "sync_writes", "audit_retention", "metrics_retention",
		"history_max_age", "history_max_count", "body_limit", "request_timeout", "workers",
		"event_queue", "app_url")}
	clusterSchema = &hcl.BodySchema{Attributes: attrSchema("bind", "advertise", "join", "bootstrap", "key",
		"heartbeat_timeout", "election_timeout", "labels")}
	authSchema   = &hcl.BodySchema{Attributes: attrSchema("anonymous_reads", "lockout_threshold", "lockout_window", "lockout_duration")}
	pluginSchema = &hcl.BodySchema{
		Attributes: attrSchema("path", "sha256", "enabled"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "component", LabelNames: []string{"name"}}},
	}
	workflowSchema = &hcl.BodySchema{
		Attributes: attrSchema("description", "enabled", "timeout"),
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "trigger", LabelNames: []string{"kind"}},
			{Type: "step", LabelNames: []string{"name"}},
			{Type: "on_failure", LabelNames: []string{"name"}},
			{Type: "retry"},
			{Type: "concurrency"},
		},
	}
	triggerSchemas = map[TriggerKind]*hcl.BodySchema{
		TriggerSchedule: {Attributes: attrSchema("cron", "every", "timezone", "catch_up", "catch_up_limit")},
		TriggerEvent:    {Attributes: attrSchema("type!", "condition")},
		TriggerWebhook:  {Attributes: attrSchema("webhook!", "condition")},
		TriggerWorkflow: {Attributes: attrSchema("workflow!", "on")},
	}
	stepSchema = &hcl.BodySchema{
		Attributes: attrSchema("action!", "description", "depends_on", "if", "for_each", "for_each_concurrency", "timeout", "node_labels"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "input"}, {Type: "retry"}},
	}
	retrySchema       = &hcl.BodySchema{Attributes: attrSchema("attempts", "initial_delay", "max_delay", "multiplier", "jitter", "retry_on")}
	concurrencySchema = &hcl.BodySchema{Attributes: attrSchema("limit", "overflow", "queue_size")}
	checkSchema       = &hcl.BodySchema{
		Attributes: attrSchema("type!", "interval", "timeout", "failures_before_unhealthy", "successes_before_healthy",
			"url", "expect_status", "body_match", "tls_skip_verify", "address", "command", "service", "path",
			"threshold", "threshold_bytes"),
		Blocks: []hcl.BlockHeaderSchema{{Type: "heal", LabelNames: []string{"strategy"}}},
	}
	serviceSchema = &hcl.BodySchema{Attributes: attrSchema("command!", "env", "dir", "stop_signal", "stop_timeout",
		"restart", "max_restarts", "window", "retry_after", "log_file", "port", "depends_on", "labels")}
	scalingSchema = &hcl.BodySchema{
		Attributes: attrSchema("mode", "min", "max", "step", "cooldown", "cooldown_up", "cooldown_down",
			"stabilization_window", "evaluation_interval", "missing_metric", "dry_run", "predictive"),
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "metric", LabelNames: []string{"name"}},
			{Type: "active_hours"},
			{Type: "backend", LabelNames: []string{"name"}},
		},
	}
	metricSchema      = &hcl.BodySchema{Attributes: attrSchema("scale_up", "scale_down", "target")}
	activeHoursSchema = &hcl.BodySchema{Attributes: attrSchema("from!", "to!", "timezone", "days")}
	discoverySchema   = &hcl.BodySchema{Attributes: attrSchema("protocol", "enabled", "interval", "targets", "ports")}
	webhookSchema     = &hcl.BodySchema{Attributes: attrSchema("secret", "signature_header", "token", "event_type")}
	alertSchema       = &hcl.BodySchema{Attributes: attrSchema("kind", "url", "secret", "to", "from", "smtp",
		"username", "password", "starttls", "remind")}
	healRunWorkflowSchema = &hcl.BodySchema{Attributes: attrSchema("workflow!")}
)

// Enumerations.
var (
	logLevels       = []string{"debug", "info", "warn", "error"}
	logFormats      = []string{"text", "json"}
	anonymousReads  = []string{"loopback", "always", "never"}
	catchUpModes    = []string{"skip", "once", "all"}
	overflowModes   = []string{"queue", "skip", "cancel_previous"}
	completionOn    = []string{"success", "failure", "any"}
	retryClasses    = []string{"any", "transient", "timeout"}
	checkTypes      = []string{"http", "tcp", "exec", "process", "store", "memory", "disk", "plugins"}
	restartModes    = []string{"always", "on_failure", "never"}
	scalingModes    = []string{"threshold", "target"}
	missingMetrics  = []string{"hold", "scale_up", "fail"}
	notifierKinds   = []string{"log", "webhook", "email"}
	triggerKinds    = []string{string(TriggerSchedule), string(TriggerEvent), string(TriggerWebhook), string(TriggerWorkflow)}
	healStrategies  = []string{"restart", "clear_caches", "run_workflow", "recycle", "exec", "wait_retry", "alert"}
	scalerBackends  = []string{"process_pool", "exec", "webhook"}
	discoveryProtos = []string{"http", "mcp", "mdns", "local"}
	stopSignals     = []string{"SIGTERM", "SIGINT", "SIGQUIT", "SIGKILL", "SIGHUP", "SIGUSR1", "SIGUSR2"}
	weekdays        = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	percentMetrics  = []string{"cpu", "memory", "disk"}
)

// checkAttrs lists the type-specific attributes each check type accepts.
var checkAttrs = map[string][]string{
	"http":    {"url", "expect_status", "body_match", "tls_skip_verify"},
	"tcp":     {"address"},
	"exec":    {"command"},
	"process": {"service"},
	"store":   {},
	"memory":  {"threshold", "threshold_bytes"},
	"disk":    {"path", "threshold"},
	"plugins": {},
}

var (
	nameRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	identRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	actionRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*\.[A-Za-z_][A-Za-z0-9_-]*$`)
	hhmmRe     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	hexSHA256  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	retryOnRe  = regexp.MustCompile(`^code:[A-Za-z0-9_.-]+$`)
	defaultApp = "http://127.0.0.1:8090"
)

func (l *loader) errorAt(rng hcl.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// checkName validates a block's name label: it appears in URLs and keys.
func (l *loader) checkName(kind string, b *hcl.Block) {
	if len(b.Labels) == 0 {
		return
	}
	if !nameRe.MatchString(b.Labels[0]) {
		l.errorAt(b.LabelRanges[0], "Invalid "+kind+" name",
			"The name %q must start with a letter or digit and contain only letters, digits, \"_\", \"-\" and \".\".", b.Labels[0])
	}
}

func defaultHost() Host {
	name, _ := os.Hostname()
	// Steps mostly wait on plugins and the network, so the default allows
	// many concurrent calls per core.
	workers := 16 * runtime.NumCPU()
	if workers < 64 {
		workers = 64
	}
	return Host{
		Name:             name,
		Listen:           ":3000",
		DataDir:          "./data",
		PluginDirs:       []string{"./bin/plugins"},
		LogLevel:         "info",
		LogFormat:        "text",
		MetricsRetention: 168 * time.Hour,
		BodyLimit:        1 << 20,
		RequestTimeout:   30 * time.Second,
		Workers:          workers,
		EventQueue:       100000,
		AppURL:           defaultApp,
	}
}

func defaultAuth() Auth {
	return Auth{
		AnonymousReads:   "loopback",
		LockoutThreshold: 10,
		LockoutWindow:    time.Minute,
		LockoutDuration:  5 * time.Minute,
	}
}

func (l *loader) host(b *hcl.Block) {
	content, d := b.Body.Content(hostSchema)
	l.diags = append(l.diags, d...)
	h := &l.p.Host
	h.DeclRange = b.DefRange
	a := l.attrs(content, b, nil)
	a.str("name", &h.Name)
	if a.str("listen", &h.Listen) {
		if _, _, err := net.SplitHostPort(h.Listen); err != nil {
			a.errorf("listen", "Invalid listen address", "%q is not a HOST:PORT address (for example \":3000\" or \"127.0.0.1:3000\").", h.Listen)
		}
	}
	a.str("data_dir", &h.DataDir)
	a.strList("plugin_dirs", &h.PluginDirs)
	a.enum("log_level", &h.LogLevel, logLevels...)
	a.enum("log_format", &h.LogFormat, logFormats...)
	a.boolean("sync_writes", &h.SyncWrites)
	a.dur("audit_retention", &h.AuditRetention)
	a.dur("metrics_retention", &h.MetricsRetention)
	a.dur("history_max_age", &h.HistoryMaxAge)
	a.intMin("history_max_count", &h.HistoryMaxCount, 0)
	a.intMin("body_limit", &h.BodyLimit, 1)
	a.positiveDur("request_timeout", &h.RequestTimeout)
	a.intMin("workers", &h.Workers, 1)
	a.intMin("event_queue", &h.EventQueue, 1)
	if a.str("app_url", &h.AppURL) {
		l.checkURL(a, "app_url", h.AppURL)
	}
}

func (l *loader) checkURL(a *attrs, name, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		a.errorf(name, "Invalid URL", "%q is not an http or https URL.", raw)
	}
}

func defaultCluster() Cluster {
	return Cluster{Bind: "127.0.0.1:7946", HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond}
}

func (l *loader) cluster(b *hcl.Block) {
	content, d := b.Body.Content(clusterSchema)
	l.diags = append(l.diags, d...)
	c := &l.p.Cluster
	c.Enabled = true
	c.DeclRange = b.DefRange
	a := l.attrs(content, b, nil)
	hostPort := func(name, v string) {
		if _, _, err := net.SplitHostPort(v); err != nil {
			a.errorf(name, "Invalid cluster address", "%q is not a HOST:PORT address (for example \"127.0.0.1:7946\").", v)
		}
	}
	if a.str("bind", &c.Bind) {
		hostPort("bind", c.Bind)
	}
	if a.str("advertise", &c.Advertise) {
		hostPort("advertise", c.Advertise)
		if h, _, err := net.SplitHostPort(c.Advertise); err == nil {
			if ip := net.ParseIP(h); ip == nil || ip.IsUnspecified() {
				a.errorf("advertise", "Invalid advertise address", "%q must name the IP address other servers dial.", c.Advertise)
			}
		}
	}
	if a.strList("join", &c.Join) {
		for _, j := range c.Join {
			hostPort("join", j)
		}
	}
	a.boolean("bootstrap", &c.Bootstrap)
	if a.str("key", &c.Key) && len(c.Key) < 16 {
		a.errorf("key", "Cluster key too short", "The cluster key must be at least 16 bytes, got %d.", len(c.Key))
	}
	a.positiveDur("heartbeat_timeout", &c.HeartbeatTimeout)
	a.positiveDur("election_timeout", &c.ElectionTimeout)
	a.strMap("labels", &c.Labels)
}

func (l *loader) auth(b *hcl.Block) {
	content, d := b.Body.Content(authSchema)
	l.diags = append(l.diags, d...)
	au := &l.p.Auth
	au.DeclRange = b.DefRange
	a := l.attrs(content, b, nil)
	a.enum("anonymous_reads", &au.AnonymousReads, anonymousReads...)
	a.intMin("lockout_threshold", &au.LockoutThreshold, 1)
	a.positiveDur("lockout_window", &au.LockoutWindow)
	a.positiveDur("lockout_duration", &au.LockoutDuration)
}

func (l *loader) plugin(b *hcl.Block) *Plugin {
	l.checkName("plugin", b)
	content, d := b.Body.Content(pluginSchema)
	l.diags = append(l.diags, d...)
	p := &Plugin{Name: b.Labels[0], Enabled: true, DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	a.str("path", &p.Path)
	if a.str("sha256", &p.SHA256) && !hexSHA256.MatchString(p.SHA256) {
		a.errorf("sha256", "Invalid sha256", "The pin must be 64 lowercase hexadecimal digits, got %q.", p.SHA256)
	}
	a.boolean("enabled", &p.Enabled)
	seen := map[string]hcl.Range{}
	for _, cb := range content.Blocks {
		l.checkName("component", cb)
		name := cb.Labels[0]
		if prev, ok := seen[name]; ok {
			l.diags = append(l.diags, duplicate("component", name, prev, cb.DefRange))
			continue
		}
		seen[name] = cb.DefRange
		p.Components = append(p.Components, &PluginComponent{Name: name, Body: cb.Body, DeclRange: cb.DefRange})
	}
	return p
}

func (l *loader) workflow(b *hcl.Block) *Workflow {
	l.checkName("workflow", b)
	content, d := b.Body.Content(workflowSchema)
	l.diags = append(l.diags, d...)
	w := &Workflow{Name: b.Labels[0], Enabled: true, DeclRange: b.DefRange,
		Concurrency: Concurrency{Overflow: "queue", QueueSize: 1000}}
	a := l.attrs(content, b, nil)
	a.str("description", &w.Description)
	a.boolean("enabled", &w.Enabled)
	a.dur("timeout", &w.Timeout)
	stepNames := map[string]hcl.Range{}
	var retrySeen, concSeen *hcl.Range
	for _, cb := range content.Blocks {
		switch cb.Type {
		case "trigger":
			if t := l.trigger(cb); t != nil {
				w.Triggers = append(w.Triggers, t)
			}
		case "step", "on_failure":
			s := l.step(cb)
			if prev, ok := stepNames[s.Name]; ok {
				l.diags = append(l.diags, duplicate("step", s.Name, prev, cb.DefRange))
				continue
			}
			stepNames[s.Name] = cb.DefRange
			if cb.Type == "step" {
				w.Steps = append(w.Steps, s)
			} else {
				w.OnFailure = append(w.OnFailure, s)
			}
		case "retry":
			if l.once(&retrySeen, cb) {
				w.Retry = l.retry(cb)
			}
		case "concurrency":
			if l.once(&concSeen, cb) {
				l.concurrency(cb, &w.Concurrency)
			}
		}
	}
	if len(w.Steps) == 0 {
		l.errorAt(b.DefRange, "Workflow has no steps", "Workflow %q needs at least one step block.", w.Name)
	}
	return w
}

// once allows a nested block at most once.
func (l *loader) once(seen **hcl.Range, b *hcl.Block) bool {
	if *seen != nil {
		l.errorAt(b.DefRange, "Duplicate "+b.Type+" block",
			"Only one %s block is allowed here; another is defined at %s:%d.", b.Type, (*seen).Filename, (*seen).Start.Line)
		return false
	}
	r := b.DefRange
	*seen = &r
	return true
}

func (l *loader) trigger(b *hcl.Block) *Trigger {
	kind := TriggerKind(b.Labels[0])
	schema, ok := triggerSchemas[kind]
	if !ok {
		l.errorAt(b.LabelRanges[0], "Invalid trigger kind", "%q is not a trigger kind; %s.%s",
			b.Labels[0], mustBeOneOf(triggerKinds), suggest(b.Labels[0], triggerKinds))
		return nil
	}
	content, d := b.Body.Content(schema)
	l.diags = append(l.diags, d...)
	t := &Trigger{Kind: kind, DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	switch kind {
	case TriggerSchedule:
		t.Timezone, t.CatchUp, t.CatchUpLimit = "UTC", "skip", 10
		if a.str("timezone", &t.Timezone) {
			if _, err := time.LoadLocation(t.Timezone); err != nil || t.Timezone == "" {
				a.errorf("timezone", "Invalid time zone", "%q is not a known IANA time zone (for example \"UTC\" or \"Europe/Berlin\").", t.Timezone)
			}
		}
		hasCron := a.has("cron")
		hasEvery := a.has("every")
		switch {
		case hasCron && hasEvery:
			a.errorf("every", "Conflicting schedule", "Set either cron or every, not both.")
		case !hasCron && !hasEvery:
			a.missing("cron", ` (or "every") in a schedule trigger`)
		}
		if a.str("cron", &t.Cron) {
			if _, err := ParseSchedule(t.Cron, ""); err != nil {
				a.errorf("cron", "Invalid cron expression", "%s. Use five fields (minute hour day-of-month month day-of-week), six with leading seconds, or a descriptor such as \"@daily\" or \"@every 10m\".", err)
			}
		}
		if a.positiveDur("every", &t.Every) && t.Every < time.Second {
			a.errorf("every", "Value out of range", "The interval must be at least 1s.")
		}
		a.enum("catch_up", &t.CatchUp, catchUpModes...)
		a.intMin("catch_up_limit", &t.CatchUpLimit, 1)
	case TriggerEvent:
		if a.str("type", &t.EventType) {
			if _, err := path.Match(t.EventType, ""); err != nil || t.EventType == "" {
				a.errorf("type", "Invalid event type pattern", "%q is not a valid glob pattern (for example \"user.registered\" or \"user.*\").", t.EventType)
			}
		}
		t.Condition = runtimeExpr(content, "condition")
	case TriggerWebhook:
		a.str("webhook", &t.Webhook)
		l.remember(t, a, "webhook")
		t.Condition = runtimeExpr(content, "condition")
	case TriggerWorkflow:
		t.On = "success"
		l.remember(t, a, "workflow")
		a.str("workflow", &t.Workflow)
		a.enum("on", &t.On, completionOn...)
	}
	return t
}

func runtimeExpr(content *hcl.BodyContent, name string) hcl.Expression {
	if at, ok := content.Attributes[name]; ok {
		return at.Expr
	}
	return nil
}

func (l *loader) step(b *hcl.Block) *Step {
	l.checkName("step", b)
	content, d := b.Body.Content(stepSchema)
	l.diags = append(l.diags, d...)
	s := &Step{Name: b.Labels[0], ForEachConcurrency: 4, Input: map[string]hcl.Expression{}, DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	if a.str("action", &s.Action) && !actionRe.MatchString(s.Action) {
		a.errorf("action", "Invalid action", "%q must have the form \"PLUGIN.COMPONENT\" (two identifiers separated by a dot, for example \"http.request\").", s.Action)
	}
	a.str("description", &s.Description)
	a.strList("depends_on", &s.DependsOn)
	l.remember(s, a, "depends_on")
	s.If = runtimeExpr(content, "if")
	s.ForEach = runtimeExpr(content, "for_each")
	a.intMin("for_each_concurrency", &s.ForEachConcurrency, 1)
	a.dur("timeout", &s.Timeout)
	a.strMap("node_labels", &s.NodeLabels)
	var inputSeen, retrySeen *hcl.Range
	for _, cb := range content.Blocks {
		switch cb.Type {
		case "input":
			if !l.once(&inputSeen, cb) {
				continue
			}
			at, d := cb.Body.JustAttributes()
			l.diags = append(l.diags, d...)
			for n, attr := range at {
				s.Input[n] = attr.Expr
			}
			s.InputRange = cb.DefRange
		case "retry":
			if l.once(&retrySeen, cb) {
				s.Retry = l.retry(cb)
			}
		}
	}
	return s
}

func (l *loader) retry(b *hcl.Block) *Retry {
	content, d := b.Body.Content(retrySchema)
	l.diags = append(l.diags, d...)
	r := &Retry{Attempts: 3, InitialDelay: time.Second, MaxDelay: time.Minute, Multiplier: 2, Jitter: 0.1,
		RetryOn: []string{"any"}, DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	a.intMin("attempts", &r.Attempts, 1)
	a.dur("initial_delay", &r.InitialDelay)
	a.dur("max_delay", &r.MaxDelay)
	if a.number("multiplier", &r.Multiplier) && r.Multiplier < 1 {
		a.errorf("multiplier", "Value out of range", "The value of \"multiplier\" must be at least 1, got %g.", r.Multiplier)
	}
	a.numRange("jitter", &r.Jitter, 0, 1)
	if r.MaxDelay < r.InitialDelay && (a.has("max_delay") || a.has("initial_delay")) {
		a.errorf("max_delay", "Value out of range", "max_delay (%s) must not be shorter than initial_delay (%s).", r.MaxDelay, r.InitialDelay)
	}
	var on []string
	if a.strList("retry_on", &on) {
		r.RetryOn = r.RetryOn[:0]
		for _, c := range on {
			switch {
			case contains(retryClasses, c):
				r.RetryOn = append(r.RetryOn, c)
			case retryOnRe.MatchString(c):
				r.RetryOn = append(r.RetryOn, strings.TrimPrefix(c, "code:"))
			default:
				a.errorf("retry_on", "Invalid value for retry_on", "%q is not valid; %s, or \"code:CODE\" for an action's error code.%s",
					c, mustBeOneOf(retryClasses), suggest(c, retryClasses))
			}
		}
	}
	return r
}

func (l *loader) concurrency(b *hcl.Block, c *Concurrency) {
	content, d := b.Body.Content(concurrencySchema)
	l.diags = append(l.diags, d...)
	c.DeclRange = b.DefRange
	a := l.attrs(content, b, nil)
	a.intMin("limit", &c.Limit, 0)
	a.enum("overflow", &c.Overflow, overflowModes...)
	a.intMin("queue_size", &c.QueueSize, 1)
}

// heal strategies that name a workflow, checked after all workflows are known.
type healRef struct {
	workflow string
	rng      hcl.Range
}

func (l *loader) check(b *hcl.Block) *Check {
	l.checkName("check", b)
	content, d := b.Body.Content(checkSchema)
	l.diags = append(l.diags, d...)
	c := &Check{Name: b.Labels[0], Interval: 30 * time.Second, Timeout: 5 * time.Second,
		FailuresBeforeUnhealthy: 3, SuccessesBeforeHealthy: 1, DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	typeOK := a.enum("type", &c.Type, checkTypes...)
	a.positiveDur("interval", &c.Interval)
	a.positiveDur("timeout", &c.Timeout)
	a.intMin("failures_before_unhealthy", &c.FailuresBeforeUnhealthy, 1)
	a.intMin("successes_before_healthy", &c.SuccessesBeforeHealthy, 1)
	if typeOK {
		allowed := checkAttrs[c.Type]
		for _, n := range []string{"url", "expect_status", "body_match", "tls_skip_verify", "address", "command", "service", "path", "threshold", "threshold_bytes"} {
			if a.has(n) && !contains(allowed, n) {
				a.errorf(n, "Argument not valid for this check type", "The argument %q does not apply to a check of type %q.", n, c.Type)
			}
		}
	}
	if a.str("url", &c.URL) {
		l.checkURL(a, "url", c.URL)
	}
	if a.intList("expect_status", &c.ExpectStatus) {
		for _, s := range c.ExpectStatus {
			if s < 100 || s > 599 {
				a.errorf("expect_status", "Value out of range", "HTTP status %d is not between 100 and 599.", s)
			}
		}
	}
	if a.str("body_match", &c.BodyMatch) {
		if _, err := regexp.Compile(c.BodyMatch); err != nil {
			a.errorf("body_match", "Invalid regular expression", "%v.", err)
		}
	}
	a.boolean("tls_skip_verify", &c.TLSSkipVerify)
	if a.str("address", &c.Address) {
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			a.errorf("address", "Invalid address", "%q is not a HOST:PORT address.", c.Address)
		}
	}
	if a.strList("command", &c.Command) && len(c.Command) == 0 {
		a.errorf("command", "Invalid attribute value", "The command must name a program: [\"PROGRAM\", \"ARG\", ...].")
	}
	a.str("service", &c.Service)
	l.remember(c, a, "service")
	a.str("path", &c.Path)
	a.numRange("threshold", &c.ThresholdPercent, 0, 100)
	a.int64("threshold_bytes", &c.ThresholdBytes)
	if c.Timeout > c.Interval && a.has("timeout") {
		a.errorf("timeout", "Value out of range", "The timeout (%s) must not be longer than the interval (%s).", c.Timeout, c.Interval)
	}
	if typeOK {
		switch c.Type {
		case "http":
			if c.URL == "" && !a.has("url") {
				a.missing("url", ` for a check of type "http"`)
			}
		case "tcp":
			if !a.has("address") {
				a.missing("address", ` for a check of type "tcp"`)
			}
		case "exec":
			if !a.has("command") {
				a.missing("command", ` for a check of type "exec"`)
			}
		case "process":
			if !a.has("service") {
				a.missing("service", ` for a check of type "process"`)
			}
		case "disk":
			if c.Path == "" {
				c.Path = "."
			}
			if !a.has("threshold") {
				c.ThresholdPercent = 90
			}
		case "memory":
			if !a.has("threshold") && !a.has("threshold_bytes") {
				c.ThresholdPercent = 90
			}
		}
	}
	for _, hb := range content.Blocks {
		strategy := hb.Labels[0]
		if !contains(healStrategies, strategy) && !actionRe.MatchString(strategy) {
			l.errorAt(hb.LabelRanges[0], "Invalid heal strategy", "%q is not a healer; %s, or \"PLUGIN.COMPONENT\".%s",
				strategy, mustBeOneOf(healStrategies), suggest(strategy, healStrategies))
		}
		if strategy == "run_workflow" {
			hc, _, d := hb.Body.PartialContent(healRunWorkflowSchema)
			l.diags = append(l.diags, d...)
			var name string
			ha := &attrs{list: hc.Attributes, ctx: l.ctx, block: hb.DefRange, diags: &l.diags, incomplete: l.incomplete}
			if ha.str("workflow", &name) {
				rng := ha.rangeOf("workflow")
				l.healRefs = append(l.healRefs, healRef{workflow: name, rng: rng})
			}
		}
		c.Heal = append(c.Heal, &HealStep{Strategy: strategy, Options: hb.Body, DeclRange: hb.DefRange})
	}
	return c
}

func (l *loader) service(b *hcl.Block) *Service {
	l.checkName("service", b)
	content, d := b.Body.Content(serviceSchema)
	l.diags = append(l.diags, d...)
	s := &Service{Name: b.Labels[0], StopSignal: "SIGTERM", StopTimeout: 10 * time.Second, Restart: "always",
		MaxRestarts: 5, Window: 10 * time.Minute, RetryAfter: 30 * time.Minute, DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	if a.strList("command", &s.Command) && len(s.Command) == 0 {
		a.errorf("command", "Invalid attribute value", "The command must name a program: [\"PROGRAM\", \"ARG\", ...].")
	}
	a.strMap("env", &s.Env)
	a.str("dir", &s.Dir)
	a.enum("stop_signal", &s.StopSignal, stopSignals...)
	a.dur("stop_timeout", &s.StopTimeout)
	a.enum("restart", &s.Restart, restartModes...)
	a.intMin("max_restarts", &s.MaxRestarts, 0)
	a.positiveDur("window", &s.Window)
	a.dur("retry_after", &s.RetryAfter)
	a.str("log_file", &s.LogFile)
	if a.integer("port", &s.Port) && (s.Port < 1 || s.Port > 65535) {
		a.errorf("port", "Value out of range", "A port must be between 1 and 65535, got %d.", s.Port)
	}
	a.strList("depends_on", &s.DependsOn)
	l.remember(s, a, "depends_on")
	a.strMap("labels", &s.Labels)
	return s
}

func (l *loader) scaling(b *hcl.Block) *Scaling {
	l.checkName("scaling", b)
	content, d := b.Body.Content(scalingSchema)
	l.diags = append(l.diags, d...)
	s := &Scaling{Name: b.Labels[0], Mode: "threshold", Min: 1, Max: 10, Step: 1, Cooldown: 5 * time.Minute,
		StabilizationWindow: 5 * time.Minute, EvaluationInterval: 10 * time.Minute, MissingMetric: "hold", DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	a.enum("mode", &s.Mode, scalingModes...)
	a.intMin("min", &s.Min, 0)
	a.intMin("max", &s.Max, 1)
	a.intMin("step", &s.Step, 1)
	if s.Min > s.Max {
		a.errorf("min", "Value out of range", "min (%d) must not be greater than max (%d).", s.Min, s.Max)
	}
	a.dur("cooldown", &s.Cooldown)
	a.dur("cooldown_up", &s.CooldownUp)
	a.dur("cooldown_down", &s.CooldownDown)
	a.dur("stabilization_window", &s.StabilizationWindow)
	a.positiveDur("evaluation_interval", &s.EvaluationInterval)
	a.enum("missing_metric", &s.MissingMetric, missingMetrics...)
	a.boolean("dry_run", &s.DryRun)
	a.boolean("predictive", &s.Predictive)
	var ahSeen, backendSeen *hcl.Range
	metricNames := map[string]hcl.Range{}
	for _, cb := range content.Blocks {
		switch cb.Type {
		case "metric":
			name := cb.Labels[0]
			if prev, ok := metricNames[name]; ok {
				l.diags = append(l.diags, duplicate("metric", name, prev, cb.DefRange))
				continue
			}
			metricNames[name] = cb.DefRange
			s.Metrics = append(s.Metrics, l.metric(cb, s.Mode))
		case "active_hours":
			if l.once(&ahSeen, cb) {
				s.ActiveHours = l.activeHours(cb)
			}
		case "backend":
			if l.once(&backendSeen, cb) {
				s.Backend = cb.Labels[0]
				s.BackendConfig = cb.Body
				if !contains(scalerBackends, s.Backend) && !actionRe.MatchString(s.Backend) {
					l.errorAt(cb.LabelRanges[0], "Invalid scaling backend", "%q is not a scaler; %s, or \"PLUGIN.COMPONENT\".%s",
						s.Backend, mustBeOneOf(scalerBackends), suggest(s.Backend, scalerBackends))
				}
			}
		}
	}
	if len(s.Metrics) == 0 {
		l.errorAt(b.DefRange, "Scaling policy has no metrics", "Scaling policy %q needs at least one metric block.", s.Name)
	}
	if backendSeen == nil && !s.DryRun {
		l.errorAt(b.DefRange, "Missing backend block", "Scaling policy %q needs a backend \"NAME\" { ... } block unless dry_run = true.", s.Name)
	}
	return s
}

func (l *loader) metric(b *hcl.Block, mode string) *ScalingMetric {
	content, d := b.Body.Content(metricSchema)
	l.diags = append(l.diags, d...)
	m := &ScalingMetric{Name: b.Labels[0], DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	hi := 1e18
	if contains(percentMetrics, m.Name) {
		hi = 100
	}
	okUp := a.numRange("scale_up", &m.ScaleUp, 0, hi)
	okDown := a.numRange("scale_down", &m.ScaleDown, 0, hi)
	okTarget := a.numRange("target", &m.Target, 0, hi)
	switch mode {
	case "threshold":
		if !a.has("scale_up") {
			a.missing("scale_up", " in threshold mode")
		}
		if !a.has("scale_down") {
			a.missing("scale_down", " in threshold mode")
		}
		if okUp && okDown && m.ScaleDown >= m.ScaleUp {
			a.errorf("scale_down", "Value out of range", "scale_down (%g) must be lower than scale_up (%g).", m.ScaleDown, m.ScaleUp)
		}
	case "target":
		if !a.has("target") {
			a.missing("target", " in target mode")
		} else if okTarget && m.Target <= 0 {
			a.errorf("target", "Value out of range", "The target must be greater than zero.")
		}
	}
	return m
}

func (l *loader) activeHours(b *hcl.Block) *ActiveHours {
	content, d := b.Body.Content(activeHoursSchema)
	l.diags = append(l.diags, d...)
	h := &ActiveHours{Timezone: "UTC"}
	a := l.attrs(content, b, nil)
	for _, n := range []string{"from", "to"} {
		dst := &h.From
		if n == "to" {
			dst = &h.To
		}
		if a.str(n, dst) && !hhmmRe.MatchString(*dst) {
			a.errorf(n, "Invalid time of day", "%q must be a 24-hour time \"HH:MM\", for example \"08:00\".", *dst)
		}
	}
	if a.str("timezone", &h.Timezone) {
		if _, err := time.LoadLocation(h.Timezone); err != nil || h.Timezone == "" {
			a.errorf("timezone", "Invalid time zone", "%q is not a known IANA time zone (for example \"UTC\" or \"Europe/Berlin\").", h.Timezone)
		}
	}
	if a.strList("days", &h.Days) {
		for _, day := range h.Days {
			if !contains(weekdays, day) {
				a.errorf("days", "Invalid value for days", "%q is not valid; %s.%s", day, mustBeOneOf(weekdays), suggest(day, weekdays))
			}
		}
	}
	return h
}

func (l *loader) discovery(b *hcl.Block) *Discovery {
	l.checkName("discovery", b)
	content, rest, d := b.Body.PartialContent(discoverySchema)
	l.diags = append(l.diags, d...)
	dc := &Discovery{Name: b.Labels[0], Protocol: b.Labels[0], Enabled: true, Interval: 5 * time.Minute,
		Config: rest, DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	a.str("protocol", &dc.Protocol)
	if !contains(discoveryProtos, dc.Protocol) && !actionRe.MatchString(dc.Protocol) {
		if a.has("protocol") {
			a.errorf("protocol", "Invalid discovery protocol", "%q is not valid; %s, or \"PLUGIN.COMPONENT\".%s",
				dc.Protocol, mustBeOneOf(discoveryProtos), suggest(dc.Protocol, discoveryProtos))
		} else {
			a.missing("protocol", fmt.Sprintf(" because %q is not a protocol name", dc.Name))
		}
	}
	a.boolean("enabled", &dc.Enabled)
	a.positiveDur("interval", &dc.Interval)
	a.strList("targets", &dc.Targets)
	if a.intList("ports", &dc.Ports) {
		for _, p := range dc.Ports {
			if p < 1 || p > 65535 {
				a.errorf("ports", "Value out of range", "A port must be between 1 and 65535, got %d.", p)
			}
		}
	}
	return dc
}

func (l *loader) webhook(b *hcl.Block) *Webhook {
	l.checkName("webhook", b)
	content, d := b.Body.Content(webhookSchema)
	l.diags = append(l.diags, d...)
	w := &Webhook{Name: b.Labels[0], SignatureHeader: "X-Heady-Signature-256", EventType: "webhook." + b.Labels[0], DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	a.str("secret", &w.Secret)
	a.str("signature_header", &w.SignatureHeader)
	a.str("token", &w.Token)
	a.str("event_type", &w.EventType)
	return w
}

func (l *loader) alert(b *hcl.Block) *Notifier {
	l.checkName("alert", b)
	content, d := b.Body.Content(alertSchema)
	l.diags = append(l.diags, d...)
	n := &Notifier{Name: b.Labels[0], Kind: "log", Remind: time.Hour, DeclRange: b.DefRange}
	a := l.attrs(content, b, nil)
	kindOK := a.enum("kind", &n.Kind, notifierKinds...)
	if a.str("url", &n.URL) {
		l.checkURL(a, "url", n.URL)
	}
	a.str("secret", &n.Secret)
	a.strList("to", &n.To)
	a.str("from", &n.From)
	if a.str("smtp", &n.SMTP) {
		if _, _, err := net.SplitHostPort(n.SMTP); err != nil {
			a.errorf("smtp", "Invalid address", "%q is not a HOST:PORT address.", n.SMTP)
		}
	}
	a.str("username", &n.Username)
	a.str("password", &n.Password)
	a.boolean("starttls", &n.StartTLS)
	a.positiveDur("remind", &n.Remind)
	if kindOK || !a.has("kind") {
		switch n.Kind {
		case "webhook":
			if !a.has("url") {
				a.missing("url", ` for an alert of kind "webhook"`)
			}
		case "email":
			for _, req := range []string{"to", "from", "smtp"} {
				if !a.has(req) {
					a.missing(req, ` for an alert of kind "email"`)
				}
			}
		}
	}
	return n
}
