package api

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/metrics"
	"github.com/heady-dev/heady/host/scaling"
)

// ScalingService is the auto-scaler and the metrics store as the API sees
// them.
type ScalingService interface {
	// ScalingMetrics is the current system view: host figures, request
	// rates, active nodes and every policy with its metrics.
	ScalingMetrics(ctx context.Context) ScalingMetrics
	ScalingPolicies(ctx context.Context) []scaling.PolicyView
	ScalingHistory(ctx context.Context, f scaling.HistoryFilter) ([]scaling.Decision, string, error)
	// EvaluateScaling evaluates one policy now (scaling.ErrNotFound when
	// unknown).
	EvaluateScaling(ctx context.Context, policy, actor string) (scaling.Decision, error)
	RecordMetrics(ctx context.Context, samples []metrics.Sample) error
	QueryMetrics(ctx context.Context, series string, from, to time.Time, step time.Duration) ([]metrics.Point, error)
	ListSeries() []metrics.SeriesInfo
	// PrometheusText renders Heady's own metrics and their content type.
	PrometheusText() ([]byte, string, error)
	// ObserveRequest counts one API request (method, route pattern,
	// status, duration).
	ObserveRequest(method, route string, status int, d time.Duration)
}

// ScalingMetrics is the body of GET /scaling/metrics.
type ScalingMetrics struct {
	Time           time.Time            `json:"time"`
	CPU            float64              `json:"cpu"`
	Memory         float64              `json:"memory"`
	Disk           float64              `json:"disk"`
	Load1          float64              `json:"load1"`
	RequestsPerMin float64              `json:"requests_per_min"`
	EventsPerMin   float64              `json:"events_per_min"`
	ActiveNodes    int                  `json:"active_nodes"`
	Policies       []scaling.PolicyView `json:"policies"`
}

// CustomMetricsRequest is the body of POST /metrics/custom. Series names
// without a dot are stored as custom.NAME.
type CustomMetricsRequest struct {
	Samples []metrics.Sample `json:"samples" required:"true"`
}

// CustomMetricsAccepted answers POST /metrics/custom.
type CustomMetricsAccepted struct {
	Recorded int      `json:"recorded"`
	Series   []string `json:"series"`
}

// MetricsQueryResponse is the body of GET /metrics/query.
type MetricsQueryResponse struct {
	Series string          `json:"series"`
	From   time.Time       `json:"from"`
	To     time.Time       `json:"to"`
	Step   string          `json:"step"`
	Points []metrics.Point `json:"points"`
}

func (s *Server) scalingRoutes() []Route {
	pageQ := map[string]string{"limit": "page size, 1-1000", "cursor": "next_cursor of the previous page",
		"policy": "only this policy's decisions", "action": "only these actions, comma separated: scale_up, scale_down, hold, error"}
	return []Route{
		{Method: fiber.MethodGet, Path: "/scaling/metrics", Summary: "Current system metrics: cpu, memory, disk, requests per minute, active nodes and each scaling policy's view", Tag: "scaling",
			Role: RoleReader, Action: "scaling.metrics", Response: ScalingMetrics{}, Handler: s.getScalingMetrics},
		{Method: fiber.MethodGet, Path: "/scaling/history", Summary: "Scaling decisions, newest first: metric values, from, to, reason, backend result, or why it held", Tag: "scaling",
			Role: RoleReader, Action: "scaling.history", Query: pageQ, Response: Page[scaling.Decision]{}, Handler: s.getScalingHistory},
		{Method: fiber.MethodGet, Path: "/scaling/policies", Summary: "Scaling policies with their live state", Tag: "scaling",
			Role: RoleReader, Action: "scaling.policy.list", Response: Page[scaling.PolicyView]{}, Handler: s.listScalingPolicies},
		{Method: fiber.MethodPost, Path: "/scaling/policies/:name/evaluate", Summary: "Evaluate a scaling policy now and carry out its decision", Tag: "scaling",
			Role: RoleOperator, Action: "scaling.evaluate", ResourceType: "scaling_policy", ResourceParam: "name", Response: scaling.Decision{}, Handler: s.evaluateScaling},
		{Method: fiber.MethodPost, Path: "/metrics/custom", Summary: "Push custom metric samples (series without a dot are stored as custom.NAME)", Tag: "metrics",
			Role: RoleOperator, Action: "metrics.push", ResourceType: "metric", Request: CustomMetricsRequest{}, Response: CustomMetricsAccepted{},
			Status: fiber.StatusAccepted, Handler: s.postCustomMetrics},
		{Method: fiber.MethodGet, Path: "/metrics/query", Summary: "A series over a time range, aggregated per step (avg, min, max, count) from roll-ups", Tag: "metrics",
			Role: RoleReader, Action: "metrics.query", ResourceType: "metric",
			Query: map[string]string{"series": "series id, for example host.cpu (required)", "from": "RFC 3339 time or duration back from now (default 1h)",
				"to": "RFC 3339 time or duration back from now (default now)", "step": "duration, for example 1m (default: one point for the range)"},
			Response: MetricsQueryResponse{}, Handler: s.queryMetrics},
		{Method: fiber.MethodGet, Path: "/metrics/series", Summary: "Every stored series with its latest value", Tag: "metrics",
			Role: RoleReader, Action: "metrics.series", Response: Page[metrics.SeriesInfo]{}, Handler: s.listSeries},
		{Method: fiber.MethodGet, Path: "/metrics", Absolute: true, Raw: true, Summary: "Heady's own metrics in the Prometheus text format", Tag: "metrics",
			Role: RoleReader, Action: "metrics.scrape", Handler: s.prometheusMetrics},
	}
}

func (s *Server) scalingSvc() (ScalingService, error) {
	if s.svc().Scaling == nil {
		return nil, unavailable("the auto-scaler")
	}
	return s.svc().Scaling, nil
}

func (s *Server) getScalingMetrics(c *fiber.Ctx) error {
	sc, err := s.scalingSvc()
	if err != nil {
		return err
	}
	return c.JSON(sc.ScalingMetrics(c.UserContext()))
}

func (s *Server) getScalingHistory(c *fiber.Ctx) error {
	sc, err := s.scalingSvc()
	if err != nil {
		return err
	}
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	f := scaling.HistoryFilter{Policy: c.Query("policy"), Limit: limit, Cursor: cursor}
	if a := c.Query("action"); a != "" {
		for _, x := range strings.Split(a, ",") {
			x = strings.TrimSpace(x)
			switch x {
			case scaling.ActionScaleUp, scaling.ActionScaleDown, scaling.ActionHold, scaling.ActionError:
				f.Actions = append(f.Actions, x)
			default:
				return FieldError("action", "action must be scale_up, scale_down, hold or error, got %q", x)
			}
		}
	}
	items, next, err := sc.ScalingHistory(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, next))
}

func (s *Server) listScalingPolicies(c *fiber.Ctx) error {
	sc, err := s.scalingSvc()
	if err != nil {
		return err
	}
	return c.JSON(listOf(sc.ScalingPolicies(c.UserContext()), ""))
}

func (s *Server) evaluateScaling(c *fiber.Ctx) error {
	sc, err := s.scalingSvc()
	if err != nil {
		return err
	}
	name := c.Params("name")
	d, err := sc.EvaluateScaling(c.UserContext(), name, PrincipalOf(c).Name)
	if errors.Is(err, scaling.ErrNotFound) {
		return NotFound("scaling policy", name)
	}
	if d.ID == "" && err != nil {
		return err
	}
	AuditDetail(c, "decision", d.ID)
	AuditDetail(c, "action", d.Action)
	AuditDetail(c, "from", d.From)
	AuditDetail(c, "to", d.To)
	return c.JSON(d)
}

func (s *Server) postCustomMetrics(c *fiber.Ctx) error {
	sc, err := s.scalingSvc()
	if err != nil {
		return err
	}
	var req CustomMetricsRequest
	if err := decodeBody(c, &req, false); err != nil {
		return err
	}
	if len(req.Samples) == 0 {
		return FieldError("samples", "samples must hold at least one sample")
	}
	if len(req.Samples) > 10000 {
		return FieldError("samples", "at most 10000 samples per request, got %d", len(req.Samples))
	}
	seen := map[string]bool{}
	var names []string
	for i := range req.Samples {
		sm := &req.Samples[i]
		if !strings.Contains(sm.Series, ".") {
			sm.Series = "custom." + sm.Series
		}
		if !metrics.ValidName(sm.Series) {
			return FieldError("samples", "samples[%d].series %q: want a letter, then letters, digits, '_', '.', ':' or '-'", i, sm.Series)
		}
		if id := metrics.SeriesID(sm.Series, sm.Labels); !seen[id] {
			seen[id] = true
			names = append(names, id)
		}
	}
	if err := sc.RecordMetrics(c.UserContext(), req.Samples); err != nil {
		if strings.HasPrefix(err.Error(), "metrics: series") {
			return FieldError("samples", "%v", err)
		}
		return err
	}
	AuditDetail(c, "samples", len(req.Samples))
	AuditDetail(c, "series", names)
	return c.Status(fiber.StatusAccepted).JSON(CustomMetricsAccepted{Recorded: len(req.Samples), Series: names})
}

func (s *Server) queryMetrics(c *fiber.Ctx) error {
	sc, err := s.scalingSvc()
	if err != nil {
		return err
	}
	series := c.Query("series")
	if series == "" {
		return FieldError("series", "series is required, for example host.cpu")
	}
	from, err := timeParam(c, "from")
	if err != nil {
		return err
	}
	to, err := timeParam(c, "to")
	if err != nil {
		return err
	}
	if to.IsZero() {
		to = time.Now()
	}
	if from.IsZero() {
		from = to.Add(-time.Hour)
	}
	if !to.After(from) {
		return FieldError("to", "to must be after from")
	}
	var step time.Duration
	if v := c.Query("step"); v != "" {
		step, err = time.ParseDuration(v)
		if err != nil || step <= 0 {
			return FieldError("step", "step must be a positive duration such as 1m, got %q", v)
		}
		if to.Sub(from)/step > 100000 {
			return FieldError("step", "step %s gives more than 100000 points over the range", v)
		}
	}
	pts, err := sc.QueryMetrics(c.UserContext(), series, from, to, step)
	if errors.Is(err, metrics.ErrUnknownSeries) {
		return NotFound("series", series)
	}
	if err != nil {
		return err
	}
	if pts == nil {
		pts = []metrics.Point{}
	}
	return c.JSON(MetricsQueryResponse{Series: series, From: from.UTC(), To: to.UTC(), Step: step.String(), Points: pts})
}

func (s *Server) listSeries(c *fiber.Ctx) error {
	sc, err := s.scalingSvc()
	if err != nil {
		return err
	}
	return c.JSON(listOf(sc.ListSeries(), ""))
}

func (s *Server) prometheusMetrics(c *fiber.Ctx) error {
	sc, err := s.scalingSvc()
	if err != nil {
		return err
	}
	body, ctype, err := sc.PrometheusText()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ctype)
	return c.Send(body)
}
