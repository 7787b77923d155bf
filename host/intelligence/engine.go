package intelligence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/host/workflow"
)

// Key layout under store.SpaceIntel.
const (
	keySuggestion = store.SpaceIntel + "suggestion/"
	keyReport     = store.SpaceIntel + "report"
	keyForecast   = store.SpaceIntel + "forecast/"
)

// Suggestion statuses.
const (
	StatusPending   = "pending"
	StatusApplied   = "applied"
	StatusDismissed = "dismissed"
)

// Errors of the suggestion lifecycle.
var (
	ErrNotFound      = errors.New("intelligence: suggestion not found")
	ErrNotApplicable = errors.New("intelligence: suggestion carries no policy to apply")
	ErrState         = errors.New("intelligence: suggestion is not in a state that allows this")
	ErrInvalidPolicy = errors.New("intelligence: suggested policy does not load")
)

// Suggestion is an optimisation the engine proposes.
type Suggestion struct {
	// ID is stable: the same finding keeps its ID across analyses.
	ID string `json:"id"`
	// Kind: automation, reliability, performance.
	Kind        string         `json:"kind"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Impact      string         `json:"impact"` // high, medium, low
	Status      string         `json:"status"`
	Evidence    map[string]any `json:"evidence,omitempty"`
	// Policy is the HCL the suggestion writes when applied ("" when it is
	// advice to follow by hand), File its file name in the policies folder.
	Policy    string    `json:"policy,omitempty"`
	File      string    `json:"file,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
	ActedBy   string    `json:"acted_by,omitempty"`
}

// Report is the outcome of one analysis.
type Report struct {
	Time       time.Time       `json:"time"`
	Entries    int             `json:"audit_entries"`
	Sessions   int             `json:"sessions"`
	Executions int             `json:"executions"`
	Patterns   []ActionPattern `json:"patterns"`
	Insights   []Insight       `json:"insights"`
	Findings   []Finding       `json:"findings"`
	Bursts     []Burst         `json:"bursts"`
	Anomalies  []Anomaly       `json:"anomalies"`
	Accuracy   []Accuracy      `json:"forecast_accuracy,omitempty"`
	NewPending int             `json:"new_suggestions"`
	DurationMS int64           `json:"duration_ms"`
}

// Anomaly is a metric sample with a high anomaly score.
type Anomaly struct {
	Series string    `json:"series"`
	Time   time.Time `json:"time"`
	Value  float64   `json:"value"`
	Score  float64   `json:"score"`
}

// Accuracy compares past forecasts with what then happened.
type Accuracy struct {
	Series string  `json:"series"`
	Points int     `json:"points"`
	MAE    float64 `json:"mae"`
	SMAPE  float64 `json:"smape"`
	// Covered is the share of actual values inside the 95% interval.
	Covered float64 `json:"covered"`
}

// Point is one aggregated metric value.
type Point struct {
	Time  time.Time
	Value float64
}

// AuditSource reads the audit trail.
type AuditSource interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, string, error)
}

// ExecutionSource reads workflow history.
type ExecutionSource interface {
	List(ctx context.Context, f workflow.ListFilter) ([]workflow.ExecutionSummary, string, error)
	Get(ctx context.Context, id string) (*workflow.Execution, error)
}

// Series reads stored metrics.
type Series interface {
	Range(ctx context.Context, series string, from, to time.Time, step time.Duration) ([]Point, error)
}

// Options configure an Engine.
type Options struct {
	Store *store.Store
	Audit AuditSource
	// Executions and Metrics are optional.
	Executions ExecutionSource
	Metrics    Series
	// MetricSeries are the series forecast and scanned for anomalies.
	MetricSeries []string
	// PoliciesDir receives applied suggestions.
	PoliciesDir string
	// LoadOptions are the options the host loads policies with (variable
	// overrides), used to check a suggestion's policy before writing it.
	LoadOptions func() config.LoadOptions
	// Lookback bounds the audit trail and history analysed (default 30 days).
	Lookback time.Duration
	// SessionGap splits sessions (default 30 minutes).
	SessionGap time.Duration
	Mining     MiningOptions
	// MaxExecutions bounds the executions inspected per analysis (default 2000).
	MaxExecutions int
	// AnomalyThreshold is the score at or above which a metric sample is
	// reported (default 0.35, near the threshold the NAB sweep selects).
	AnomalyThreshold float64
	// BurstWindow and BurstCount define a failure burst (default 5m, 5).
	BurstWindow time.Duration
	BurstCount  int
	// OnBurst is called for each new failure burst (security events).
	OnBurst func(ctx context.Context, b Burst)
	Now     func() time.Time
	Logger  *slog.Logger
}

// Engine runs the analyses and keeps the suggestions.
type Engine struct {
	opts Options

	mu        sync.Mutex
	policy    *config.Policy
	report    Report
	seenBurst map[string]bool
	analyzeMu sync.Mutex
}

// New returns an engine; call Load to read persisted state.
func New(o Options) *Engine {
	if o.Lookback <= 0 {
		o.Lookback = 30 * 24 * time.Hour
	}
	if o.SessionGap <= 0 {
		o.SessionGap = 30 * time.Minute
	}
	if o.MaxExecutions <= 0 {
		o.MaxExecutions = 2000
	}
	if o.AnomalyThreshold <= 0 {
		o.AnomalyThreshold = 0.35
	}
	if o.BurstWindow <= 0 {
		o.BurstWindow = 5 * time.Minute
	}
	if o.BurstCount <= 0 {
		o.BurstCount = 5
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{opts: o, seenBurst: map[string]bool{}}
}

// Load reads the last report from the store.
func (e *Engine) Load() error {
	var r Report
	err := e.opts.Store.GetRecord(keyReport, &r)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("intelligence: load: %w", err)
	}
	e.mu.Lock()
	e.report = r
	for _, b := range r.Bursts {
		e.seenBurst[burstKey(b)] = true
	}
	e.mu.Unlock()
	return nil
}

// SetPolicy gives the engine the policy in force (retry declarations).
func (e *Engine) SetPolicy(p *config.Policy) {
	e.mu.Lock()
	e.policy = p
	e.mu.Unlock()
}

func burstKey(b Burst) string {
	return b.Kind + "|" + b.Subject + "|" + b.From.UTC().Format(time.RFC3339Nano)
}

// Analyze runs every analysis now, persists the report and adds new
// suggestions as pending. Existing suggestions keep their status.
func (e *Engine) Analyze(ctx context.Context) (Report, error) {
	e.analyzeMu.Lock()
	defer e.analyzeMu.Unlock()
	start := e.opts.Now()
	r := Report{Time: start.UTC()}
	since := start.Add(-e.opts.Lookback)
	entries, err := e.readAudit(ctx, since)
	if err != nil {
		return r, err
	}
	r.Entries = len(entries)
	sessions := Sessionize(entries, e.opts.SessionGap)
	r.Sessions = len(sessions)
	r.Patterns = MinePatterns(sessions, e.opts.Mining)
	r.Insights = BehaviourInsights(entries)
	r.Bursts = FailureBursts(entries, e.opts.BurstWindow, e.opts.BurstCount)
	for _, b := range r.Bursts {
		r.Insights = append(r.Insights, Insight{Kind: "failure_burst", Subject: b.Subject, Score: float64(b.Count),
			Title:    fmt.Sprintf("%d %s failures within %s (%s)", b.Count, b.Kind, e.opts.BurstWindow, b.Subject),
			Evidence: map[string]any{"from": b.From, "to": b.To, "examples": b.Examples}})
	}
	var sugs []Suggestion
	for _, p := range r.Patterns {
		if !p.Maximal {
			continue
		}
		r.Insights = append(r.Insights, Insight{Kind: "action_sequence", Subject: strings.Join(p.Actors, ","), Score: float64(p.Sessions),
			Title:    fmt.Sprintf("Repeated sequence in %d sessions on %d days: %s", p.Sessions, p.Days, strings.Join(p.Actions, " → ")),
			Evidence: map[string]any{"actions": p.Actions, "sessions": p.Sessions, "days": p.Days, "actors": p.Actors}})
		id := stableID("automation", strings.Join(p.Actions, "\n"))
		name := "suggested_" + id[:8]
		if hcl, ok := WorkflowForPattern(name, p); ok {
			impact := "medium"
			if p.Sessions >= 10 && p.Days >= 5 {
				impact = "high"
			}
			sugs = append(sugs, Suggestion{ID: id, Kind: "automation", Impact: impact,
				Title:       fmt.Sprintf("Automate a sequence of %d actions repeated in %d sessions", len(p.Actions), p.Sessions),
				Description: "Create workflow " + name + " that performs: " + strings.Join(p.Actions, " → "),
				Evidence:    map[string]any{"actions": p.Actions, "sessions": p.Sessions, "days": p.Days, "actors": p.Actors},
				Policy:      hcl, File: "suggested-" + id[:8] + ".hcl"})
		}
	}
	if e.opts.Executions != nil {
		execs, err := e.readExecutions(ctx)
		if err != nil {
			return r, err
		}
		r.Executions = len(execs)
		r.Findings = ReliabilityFindings(execs, e.hasRetry)
		for _, f := range r.Findings {
			kind := "reliability"
			if f.Kind == "slow_step" {
				kind = "performance"
			}
			sugs = append(sugs, Suggestion{ID: stableID(f.Kind, f.Workflow+"\n"+f.Step), Kind: kind, Impact: f.Impact,
				Title: f.Title, Description: adviceFor(f), Evidence: f.Evidence})
		}
	}
	if e.opts.Metrics != nil {
		r.Anomalies = e.scanMetrics(ctx, start)
		r.Accuracy = e.trackAccuracy(ctx, start)
		// forecast each series so that accuracy is tracked continuously
		for _, s := range e.opts.MetricSeries {
			_, _ = e.Predict(ctx, s, 24*time.Hour)
		}
		for _, a := range r.Anomalies {
			r.Insights = append(r.Insights, Insight{Kind: "metric_anomaly", Subject: a.Series, Score: a.Score,
				Title:    fmt.Sprintf("%s was anomalous at %s (value %.3g, score %.2f)", a.Series, a.Time.Format(time.RFC3339), a.Value, a.Score),
				Evidence: map[string]any{"time": a.Time, "value": a.Value}})
		}
	}
	n, err := e.mergeSuggestions(ctx, sugs, start)
	if err != nil {
		return r, err
	}
	r.NewPending = n
	r.DurationMS = time.Since(start).Milliseconds()
	if err := e.opts.Store.Apply(ctx, store.Put(keyReport, store.MustEncode(r))); err != nil {
		return r, fmt.Errorf("intelligence: save report: %w", err)
	}
	var fresh []Burst
	e.mu.Lock()
	e.report = r
	for _, b := range r.Bursts {
		if k := burstKey(b); !e.seenBurst[k] {
			e.seenBurst[k] = true
			fresh = append(fresh, b)
		}
	}
	e.mu.Unlock()
	if e.opts.OnBurst != nil {
		for _, b := range fresh {
			e.opts.OnBurst(ctx, b)
		}
	}
	return r, nil
}

func adviceFor(f Finding) string {
	switch f.Kind {
	case "transient_without_retry":
		return fmt.Sprintf("Add a retry block to step %q of workflow %q, e.g. retry { attempts = 3 retry_on = [\"transient\"] }.", f.Step, f.Workflow)
	case "step_timeout":
		return fmt.Sprintf("Raise the timeout of step %q of workflow %q or make the action faster; add retry_on = [\"timeout\"] if it is idempotent.", f.Step, f.Workflow)
	case "always_failing":
		return fmt.Sprintf("Workflow %q never succeeds: inspect the example executions, fix it or disable it (enabled = false).", f.Workflow)
	case "slow_step":
		return fmt.Sprintf("Step %q of workflow %q is slow; run independent steps in parallel (drop needless depends_on) or cache its result.", f.Step, f.Workflow)
	}
	return ""
}

func stableID(kind, key string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + key))
	return hex.EncodeToString(h[:])[:16]
}

func (e *Engine) hasRetry(wf, step string) (declared, known bool) {
	e.mu.Lock()
	p := e.policy
	e.mu.Unlock()
	if p == nil {
		return false, false
	}
	for _, w := range p.Workflows {
		if w.Name != wf {
			continue
		}
		for _, s := range w.Steps {
			if s.Name == step {
				r := s.Retry
				if r == nil {
					r = w.Retry
				}
				return r != nil && r.Attempts > 1, true
			}
		}
	}
	return false, false
}

func (e *Engine) readAudit(ctx context.Context, since time.Time) ([]audit.Entry, error) {
	if e.opts.Audit == nil {
		return nil, nil
	}
	var out []audit.Entry
	cursor := ""
	for {
		page, next, err := e.opts.Audit.List(ctx, audit.Filter{Since: since, Asc: true, Cursor: cursor, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("intelligence: read audit: %w", err)
		}
		out = append(out, page...)
		if next == "" || len(out) >= 200000 {
			return out, nil
		}
		cursor = next
	}
}

func (e *Engine) readExecutions(ctx context.Context) ([]*workflow.Execution, error) {
	var out []*workflow.Execution
	cursor := ""
	for len(out) < e.opts.MaxExecutions {
		page, next, err := e.opts.Executions.List(ctx, workflow.ListFilter{Cursor: cursor, Limit: 500})
		if err != nil {
			return nil, fmt.Errorf("intelligence: read executions: %w", err)
		}
		for _, s := range page {
			x, err := e.opts.Executions.Get(ctx, s.ID)
			if err != nil {
				continue
			}
			out = append(out, x)
			if len(out) >= e.opts.MaxExecutions {
				break
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return out, nil
}

// mergeSuggestions stores new suggestions as pending and refreshes the
// evidence of known ones without changing their status.
func (e *Engine) mergeSuggestions(ctx context.Context, sugs []Suggestion, now time.Time) (int, error) {
	var ops []store.Op
	added := 0
	for _, s := range sugs {
		var old Suggestion
		err := e.opts.Store.GetRecord(keySuggestion+s.ID, &old)
		switch {
		case err == nil:
			old.Evidence, old.Title, old.UpdatedAt = s.Evidence, s.Title, now.UTC()
			if old.Status == StatusPending {
				old.Impact, old.Description = s.Impact, s.Description
			}
			s = old
		case errors.Is(err, store.ErrNotFound):
			s.Status, s.CreatedAt, s.UpdatedAt = StatusPending, now.UTC(), now.UTC()
			added++
		default:
			return 0, fmt.Errorf("intelligence: read suggestion: %w", err)
		}
		ops = append(ops, store.Put(keySuggestion+s.ID, store.MustEncode(s)))
	}
	if len(ops) == 0 {
		return 0, nil
	}
	if err := e.opts.Store.Apply(ctx, ops...); err != nil {
		return 0, fmt.Errorf("intelligence: save suggestions: %w", err)
	}
	return added, nil
}

// Suggestions lists suggestions with the given status ("" for all),
// high impact first, then newest.
func (e *Engine) Suggestions(status string) ([]Suggestion, error) {
	var out []Suggestion
	err := e.opts.Store.Scan(store.ScanOptions{Prefix: keySuggestion}, func(_ string, v []byte) (bool, error) {
		var s Suggestion
		if err := store.Decode(v, &s); err != nil {
			return false, err
		}
		if status == "" || s.Status == status {
			out = append(out, s)
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("intelligence: list suggestions: %w", err)
	}
	rank := map[string]int{"high": 0, "medium": 1, "low": 2}
	sort.SliceStable(out, func(i, j int) bool {
		if rank[out[i].Impact] != rank[out[j].Impact] {
			return rank[out[i].Impact] < rank[out[j].Impact]
		}
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Suggestion returns one suggestion.
func (e *Engine) Suggestion(id string) (Suggestion, error) {
	var s Suggestion
	if id == "" || strings.ContainsAny(id, "/\x00") {
		return s, ErrNotFound
	}
	err := e.opts.Store.GetRecord(keySuggestion+id, &s)
	if errors.Is(err, store.ErrNotFound) {
		return s, ErrNotFound
	}
	return s, err
}

func (e *Engine) save(ctx context.Context, s Suggestion) error {
	if err := e.opts.Store.Apply(ctx, store.Put(keySuggestion+s.ID, store.MustEncode(s))); err != nil {
		return fmt.Errorf("intelligence: save suggestion %s: %w", s.ID, err)
	}
	return nil
}

// Apply writes a pending suggestion's policy file into the policies
// directory (atomically: a temporary file renamed into place) after
// checking that the set loads with it, and marks it applied.
func (e *Engine) Apply(ctx context.Context, id, actor string) (Suggestion, error) {
	e.analyzeMu.Lock()
	defer e.analyzeMu.Unlock()
	s, err := e.Suggestion(id)
	if err != nil {
		return s, err
	}
	if s.Policy == "" {
		return s, ErrNotApplicable
	}
	if s.Status == StatusApplied {
		return s, fmt.Errorf("%w: already applied", ErrState)
	}
	if e.opts.PoliciesDir == "" {
		return s, errors.New("intelligence: apply: no policies directory")
	}
	var lo config.LoadOptions
	if e.opts.LoadOptions != nil {
		lo = e.opts.LoadOptions()
	}
	if err := CheckPolicy(e.opts.PoliciesDir, s.File, s.Policy, lo); err != nil {
		return s, err
	}
	if err := writeAtomic(filepath.Join(e.opts.PoliciesDir, s.File), []byte(s.Policy)); err != nil {
		return s, fmt.Errorf("intelligence: apply %s: %w", id, err)
	}
	now := e.opts.Now().UTC()
	s.Status, s.AppliedAt, s.UpdatedAt, s.ActedBy = StatusApplied, now, now, actor
	return s, e.save(ctx, s)
}

// Undo removes an applied suggestion's file (the host reloads without it)
// and sets it back to pending.
func (e *Engine) Undo(ctx context.Context, id, actor string) (Suggestion, error) {
	e.analyzeMu.Lock()
	defer e.analyzeMu.Unlock()
	s, err := e.Suggestion(id)
	if err != nil {
		return s, err
	}
	switch s.Status {
	case StatusApplied:
		if s.File != "" && e.opts.PoliciesDir != "" {
			err := os.Remove(filepath.Join(e.opts.PoliciesDir, s.File))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return s, fmt.Errorf("intelligence: undo %s: %w", id, err)
			}
		}
	case StatusDismissed:
	default:
		return s, fmt.Errorf("%w: %s is pending", ErrState, id)
	}
	s.Status, s.AppliedAt, s.UpdatedAt, s.ActedBy = StatusPending, time.Time{}, e.opts.Now().UTC(), actor
	return s, e.save(ctx, s)
}

// Dismiss marks a pending suggestion dismissed; analyses keep it so.
func (e *Engine) Dismiss(ctx context.Context, id, actor string) (Suggestion, error) {
	e.analyzeMu.Lock()
	defer e.analyzeMu.Unlock()
	s, err := e.Suggestion(id)
	if err != nil {
		return s, err
	}
	if s.Status != StatusPending {
		return s, fmt.Errorf("%w: %s is %s", ErrState, id, s.Status)
	}
	s.Status, s.UpdatedAt, s.ActedBy = StatusDismissed, e.opts.Now().UTC(), actor
	return s, e.save(ctx, s)
}

// CheckPolicy loads the policies of dir together with an extra file and
// returns the diagnostics as an error when the set would not load.
func CheckPolicy(dir, name, body string, lo config.LoadOptions) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("intelligence: check policy: %w", err)
	}
	var files []config.SourceFile
	for _, en := range entries {
		if en.IsDir() || !strings.HasSuffix(en.Name(), ".hcl") || strings.HasPrefix(en.Name(), ".") || en.Name() == name {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			return fmt.Errorf("intelligence: check policy: %w", err)
		}
		files = append(files, config.SourceFile{Path: en.Name(), Bytes: b})
	}
	files = append(files, config.SourceFile{Path: name, Bytes: []byte(body)})
	_, diags := config.LoadFiles(files, lo)
	if diags.HasErrors() {
		return fmt.Errorf("%w: %s", ErrInvalidPolicy, diags.Error())
	}
	return nil
}

func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".suggested-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
	}
	return werr
}

// Report is the latest analysis.
func (e *Engine) Report() Report {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.report
}

// Counts returns the status figures: mined patterns, pending suggestions
// and pending suggestions of high impact.
func (e *Engine) Counts() (patterns, pending, high int) {
	e.mu.Lock()
	patterns = len(e.report.Patterns)
	e.mu.Unlock()
	ps, err := e.Suggestions(StatusPending)
	if err != nil {
		return patterns, 0, 0
	}
	for _, s := range ps {
		if s.Impact == "high" {
			high++
		}
	}
	return patterns, len(ps), high
}

// Forecast is a load prediction for one series.
type Forecast struct {
	Series string       `json:"series"`
	Step   string       `json:"step"`
	From   time.Time    `json:"from"`
	Model  HWModel      `json:"model"`
	Points []Prediction `json:"points"`
	// Times are the times the points stand for.
	Times []time.Time `json:"times"`
}

// forecastStep is the resolution of forecasts: hourly, with daily and
// weekly seasons.
const forecastStep = time.Hour

// Predict forecasts a metric series over the horizon from its hourly
// history, records the forecast for accuracy tracking and returns it.
func (e *Engine) Predict(ctx context.Context, series string, horizon time.Duration) (Forecast, error) {
	if e.opts.Metrics == nil {
		return Forecast{}, errors.New("intelligence: predict: no metrics store")
	}
	now := e.opts.Now().UTC().Truncate(forecastStep)
	pts, err := e.opts.Metrics.Range(ctx, series, now.Add(-e.opts.Lookback), now, forecastStep)
	if err != nil {
		return Forecast{}, fmt.Errorf("intelligence: predict %s: %w", series, err)
	}
	fc, err := ForecastPoints(series, pts, horizon, forecastStep)
	if err != nil {
		return fc, fmt.Errorf("intelligence: predict %s: %w", series, err)
	}
	_ = e.opts.Store.Apply(ctx, store.PutTTL(keyForecast+series+"/"+fc.From.Format(time.RFC3339), store.MustEncode(fc), 30*24*time.Hour))
	return fc, nil
}

// Peak is the highest forecast point within a lookahead.
type Peak struct {
	Series string    `json:"series"`
	Time   time.Time `json:"time"`
	Value  float64   `json:"value"`
	Upper  float64   `json:"upper"`
}

// PeakAhead forecasts a series and returns its highest point within the
// lookahead: what a scaler needs to add capacity before a forecast peak.
// A forecast must only ever justify scaling out, never in.
func (e *Engine) PeakAhead(ctx context.Context, series string, lookahead time.Duration) (Peak, error) {
	fc, err := e.Predict(ctx, series, lookahead)
	if err != nil {
		return Peak{}, err
	}
	p := Peak{Series: series, Value: math.Inf(-1)}
	for i, pt := range fc.Points {
		if pt.Value > p.Value {
			p.Value, p.Upper, p.Time = pt.Value, pt.Upper, fc.Times[i]
		}
	}
	return p, nil
}

// ForecastPoints fits Holt-Winters to regularly spaced points (gaps filled
// by the last value) and forecasts the horizon.
func ForecastPoints(series string, pts []Point, horizon, step time.Duration) (Forecast, error) {
	y := fillRegular(pts, step)
	if len(y) < 4 {
		return Forecast{Series: series}, ErrTooShort
	}
	per := int((24 * time.Hour) / step)
	h := max(1, int(horizon/step))
	m, err := FitHoltWintersAuto(y, h, per, 7*per)
	if err != nil {
		return Forecast{Series: series}, err
	}
	last := pts[len(pts)-1].Time
	fc := Forecast{Series: series, Step: step.String(), From: last, Model: *m, Points: m.Forecast(h, 1.96)}
	for k := 1; k <= h; k++ {
		fc.Times = append(fc.Times, last.Add(time.Duration(k)*step))
	}
	return fc, nil
}

func fillRegular(pts []Point, step time.Duration) []float64 {
	if len(pts) == 0 {
		return nil
	}
	start := pts[0].Time
	n := int(pts[len(pts)-1].Time.Sub(start)/step) + 1
	if n > 100000 {
		n = 100000
	}
	y := make([]float64, n)
	have := make([]bool, n)
	for _, p := range pts {
		i := int(p.Time.Sub(start) / step)
		if i >= 0 && i < n && !math.IsNaN(p.Value) {
			y[i], have[i] = p.Value, true
		}
	}
	for i := 1; i < n; i++ {
		if !have[i] {
			y[i] = y[i-1]
		}
	}
	return y
}

// scanMetrics runs the detector over the last day of each series at one
// minute resolution and returns the samples scored at or above the
// threshold in the last hour.
func (e *Engine) scanMetrics(ctx context.Context, now time.Time) []Anomaly {
	var out []Anomaly
	for _, s := range e.opts.MetricSeries {
		pts, err := e.opts.Metrics.Range(ctx, s, now.Add(-24*time.Hour), now, time.Minute)
		if err != nil || len(pts) == 0 {
			continue
		}
		d := NewDetector(DefaultDetectorConfig())
		for _, p := range pts {
			sc := d.Update(p.Value)
			if sc >= e.opts.AnomalyThreshold && now.Sub(p.Time) <= time.Hour {
				out = append(out, Anomaly{Series: s, Time: p.Time, Value: p.Value, Score: sc})
			}
		}
	}
	return out
}

// trackAccuracy compares stored forecasts whose times have passed with the
// actual hourly values.
func (e *Engine) trackAccuracy(ctx context.Context, now time.Time) []Accuracy {
	var out []Accuracy
	for _, s := range e.opts.MetricSeries {
		var fcs []Forecast
		_ = e.opts.Store.Scan(store.ScanOptions{Prefix: keyForecast + s + "/"}, func(_ string, v []byte) (bool, error) {
			var f Forecast
			if store.Decode(v, &f) == nil {
				fcs = append(fcs, f)
			}
			return true, nil
		})
		if len(fcs) == 0 {
			continue
		}
		pts, err := e.opts.Metrics.Range(ctx, s, now.Add(-e.opts.Lookback), now, forecastStep)
		if err != nil {
			continue
		}
		actual := map[int64]float64{}
		for _, p := range pts {
			actual[p.Time.Truncate(forecastStep).Unix()] = p.Value
		}
		a := Accuracy{Series: s}
		var absErr, sm, cov float64
		for _, f := range fcs {
			for i, t := range f.Times {
				v, ok := actual[t.Truncate(forecastStep).Unix()]
				if !ok || t.After(now) {
					continue
				}
				p := f.Points[i]
				absErr += math.Abs(v - p.Value)
				sm += smapeTerm(v, p.Value)
				if v >= p.Lower && v <= p.Upper {
					cov++
				}
				a.Points++
			}
		}
		if a.Points > 0 {
			n := float64(a.Points)
			a.MAE, a.SMAPE, a.Covered = absErr/n, 100*sm/n, cov/n
			out = append(out, a)
		}
	}
	return out
}

func smapeTerm(a, f float64) float64 {
	d := math.Abs(a) + math.Abs(f)
	if d == 0 {
		return 0
	}
	return 2 * math.Abs(a-f) / d
}
