package api

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/intelligence"
)

// InsightsResponse is the body of GET /intelligence/insights.
type InsightsResponse struct {
	AnalyzedAt time.Time                    `json:"analyzed_at"`
	Insights   []intelligence.Insight       `json:"insights"`
	Patterns   []intelligence.ActionPattern `json:"patterns"`
	Findings   []intelligence.Finding       `json:"findings"`
}

// AnomaliesResponse is the body of GET /intelligence/anomalies.
type AnomaliesResponse struct {
	AnalyzedAt time.Time              `json:"analyzed_at"`
	Metrics    []intelligence.Anomaly `json:"metrics"`
	Bursts     []intelligence.Burst   `json:"bursts"`
}

// AnalyzeResponse summarises POST /intelligence/analyze.
type AnalyzeResponse struct {
	AnalyzedAt     time.Time `json:"analyzed_at"`
	AuditEntries   int       `json:"audit_entries"`
	Sessions       int       `json:"sessions"`
	Executions     int       `json:"executions"`
	Patterns       int       `json:"patterns"`
	Insights       int       `json:"insights"`
	NewSuggestions int       `json:"new_suggestions"`
	DurationMS     int64     `json:"duration_ms"`
}

func (s *Server) intelligenceRoutes() []Route {
	sugQ := map[string]string{"status": "pending, applied or dismissed", "limit": "page size, 1-1000", "cursor": "next_cursor of the previous page"}
	return []Route{
		{Method: fiber.MethodGet, Path: "/intelligence/insights", Summary: "Behavioural insights, repeated action sequences and workflow findings from the latest analysis", Tag: "intelligence",
			Role: RoleReader, Action: "intelligence.insights", Response: InsightsResponse{}, Handler: s.intelInsights},
		{Method: fiber.MethodGet, Path: "/intelligence/suggestions", Summary: "Optimisation suggestions, high impact first", Tag: "intelligence",
			Role: RoleReader, Action: "intelligence.suggestions.list", Query: sugQ, Response: Page[intelligence.Suggestion]{}, Handler: s.intelSuggestions},
		{Method: fiber.MethodPost, Path: "/intelligence/suggestions/:id/apply", Summary: "Apply a suggestion: write its policy file into the policies directory (hot-reloaded)", Tag: "intelligence",
			Role: RoleOperator, Action: "intelligence.suggestion.apply", ResourceType: "suggestion", ResourceParam: "id",
			Response: intelligence.Suggestion{}, Handler: s.intelAct("apply")},
		{Method: fiber.MethodPost, Path: "/intelligence/suggestions/:id/dismiss", Summary: "Dismiss a pending suggestion", Tag: "intelligence",
			Role: RoleOperator, Action: "intelligence.suggestion.dismiss", ResourceType: "suggestion", ResourceParam: "id",
			Response: intelligence.Suggestion{}, Handler: s.intelAct("dismiss")},
		{Method: fiber.MethodPost, Path: "/intelligence/suggestions/:id/undo", Summary: "Undo an applied (remove its file) or dismissed suggestion; it becomes pending", Tag: "intelligence",
			Role: RoleOperator, Action: "intelligence.suggestion.undo", ResourceType: "suggestion", ResourceParam: "id",
			Response: intelligence.Suggestion{}, Handler: s.intelAct("undo")},
		{Method: fiber.MethodGet, Path: "/intelligence/predictions", Summary: "Holt-Winters load forecast of a metric series with 95% prediction intervals", Tag: "intelligence",
			Role: RoleReader, Action: "intelligence.predictions",
			Query:    map[string]string{"series": "metric series (cpu, memory)", "horizon": "how far ahead, e.g. 24h (default 24h, at most 14d)"},
			Response: intelligence.Forecast{}, Handler: s.intelPredictions},
		{Method: fiber.MethodGet, Path: "/intelligence/anomalies", Summary: "Anomalous metric samples and bursts of repeated failures", Tag: "intelligence",
			Role: RoleReader, Action: "intelligence.anomalies", Response: AnomaliesResponse{}, Handler: s.intelAnomalies},
		{Method: fiber.MethodPost, Path: "/intelligence/analyze", Summary: "Run the learning now", Tag: "intelligence",
			Role: RoleOperator, Action: "intelligence.analyze", Response: AnalyzeResponse{}, Handler: s.intelAnalyze},
	}
}

func (s *Server) intel() (*intelligence.Engine, error) {
	if s.svc().Intelligence == nil {
		return nil, unavailable("the intelligence engine")
	}
	return s.svc().Intelligence, nil
}

func (s *Server) intelInsights(c *fiber.Ctx) error {
	e, err := s.intel()
	if err != nil {
		return err
	}
	r := e.Report()
	out := InsightsResponse{AnalyzedAt: r.Time, Insights: r.Insights, Patterns: r.Patterns, Findings: r.Findings}
	if out.Insights == nil {
		out.Insights = []intelligence.Insight{}
	}
	if out.Patterns == nil {
		out.Patterns = []intelligence.ActionPattern{}
	}
	if out.Findings == nil {
		out.Findings = []intelligence.Finding{}
	}
	return c.JSON(out)
}

func (s *Server) intelSuggestions(c *fiber.Ctx) error {
	e, err := s.intel()
	if err != nil {
		return err
	}
	status := c.Query("status")
	switch status {
	case "", intelligence.StatusPending, intelligence.StatusApplied, intelligence.StatusDismissed:
	default:
		return FieldError("status", "status must be pending, applied or dismissed, not %q", status)
	}
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	off := 0
	if cursor != "" {
		if off, err = strconv.Atoi(cursor); err != nil || off < 0 {
			return FieldError("cursor", "invalid cursor")
		}
	}
	all, err := e.Suggestions(status)
	if err != nil {
		return err
	}
	if off > len(all) {
		off = len(all)
	}
	end := min(off+limit, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return c.JSON(listOf(all[off:end], next))
}

func (s *Server) intelAct(op string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, err := s.intel()
		if err != nil {
			return err
		}
		id := c.Params("id")
		actor := PrincipalOf(c).Name
		var sug intelligence.Suggestion
		switch op {
		case "apply":
			sug, err = e.Apply(c.UserContext(), id, actor)
		case "dismiss":
			sug, err = e.Dismiss(c.UserContext(), id, actor)
		default:
			sug, err = e.Undo(c.UserContext(), id, actor)
		}
		switch {
		case errors.Is(err, intelligence.ErrNotFound):
			return NotFound("suggestion", id)
		case errors.Is(err, intelligence.ErrNotApplicable):
			return Errorf(fiber.StatusConflict, "not_applicable", "suggestion %q is advice without a policy: %s", id, sug.Description)
		case errors.Is(err, intelligence.ErrInvalidPolicy):
			return Errorf(fiber.StatusConflict, "invalid_policy", "%v", err)
		case errors.Is(err, intelligence.ErrState):
			return Errorf(fiber.StatusConflict, "conflict", "%v", err)
		case err != nil:
			return err
		}
		if sug.File != "" {
			AuditDetail(c, "file", sug.File)
		}
		AuditDetail(c, "status", sug.Status)
		return c.JSON(sug)
	}
}

func (s *Server) intelPredictions(c *fiber.Ctx) error {
	e, err := s.intel()
	if err != nil {
		return err
	}
	series := c.Query("series", "cpu")
	horizon := 24 * time.Hour
	if v := c.Query("horizon"); v != "" {
		d, perr := time.ParseDuration(v)
		if perr != nil || d <= 0 || d > 14*24*time.Hour {
			return FieldError("horizon", "horizon must be a duration between 1h and 14d (Go syntax, e.g. 24h), not %q", v)
		}
		horizon = d
	}
	fc, err := e.Predict(c.UserContext(), series, horizon)
	if errors.Is(err, intelligence.ErrTooShort) {
		return Errorf(fiber.StatusConflict, "not_enough_data", "series %q has too little history to forecast yet", series)
	}
	if err != nil {
		return err
	}
	return c.JSON(fc)
}

func (s *Server) intelAnomalies(c *fiber.Ctx) error {
	e, err := s.intel()
	if err != nil {
		return err
	}
	r := e.Report()
	out := AnomaliesResponse{AnalyzedAt: r.Time, Metrics: r.Anomalies, Bursts: r.Bursts}
	if out.Metrics == nil {
		out.Metrics = []intelligence.Anomaly{}
	}
	if out.Bursts == nil {
		out.Bursts = []intelligence.Burst{}
	}
	return c.JSON(out)
}

func (s *Server) intelAnalyze(c *fiber.Ctx) error {
	e, err := s.intel()
	if err != nil {
		return err
	}
	r, err := e.Analyze(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(AnalyzeResponse{AnalyzedAt: r.Time, AuditEntries: r.Entries, Sessions: r.Sessions, Executions: r.Executions,
		Patterns: len(r.Patterns), Insights: len(r.Insights), NewSuggestions: r.NewPending, DurationMS: r.DurationMS})
}
