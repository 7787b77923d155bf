package api

import (
	"bufio"
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/audit"
)

var auditQuery = map[string]string{
	"actor":         "token name or system component",
	"action":        "exact action, or a prefix ending in '.' (\"workflow.\")",
	"resource_type": "resource type",
	"resource_id":   "resource id (with resource_type)",
	"outcome":       "success, failure, denied or error",
	"since":         "RFC 3339 time or duration back from now",
	"until":         "RFC 3339 time or duration back from now",
	"order":         "desc (default) or asc",
	"limit":         "page size, 1-1000 (default 50)",
	"cursor":        "next_cursor of the previous page",
}

func (s *Server) auditRoutes() []Route {
	return []Route{
		{Method: fiber.MethodGet, Path: "/audit/logs", Summary: "Audit entries, filtered and paginated", Tag: "audit",
			Role: RoleReader, Action: "audit.read", Query: auditQuery, Response: Page[audit.Entry]{}, Handler: s.auditLogs(false)},
		{Method: fiber.MethodGet, Path: "/audit/security-events", Summary: "Security events: denied requests, lockouts, refused plugins", Tag: "audit",
			Role: RoleReader, Action: "audit.read", Query: auditQuery, Response: Page[audit.Entry]{}, Handler: s.auditLogs(true)},
		{Method: fiber.MethodGet, Path: "/audit/statistics", Summary: "Counts by action, actor, outcome and hour", Tag: "audit",
			Role: RoleReader, Action: "audit.read", Query: map[string]string{"since": "start", "until": "end"},
			Response: audit.Stats{}, Handler: s.auditStatistics},
		{Method: fiber.MethodGet, Path: "/audit/trail/:type/:id", Summary: "Every entry about one resource", Tag: "audit",
			Role: RoleReader, Action: "audit.read", Query: map[string]string{"limit": "page size", "cursor": "next page"},
			Response: Page[audit.Entry]{}, Handler: s.auditTrail},
		{Method: fiber.MethodGet, Path: "/audit/export", Summary: "Audit entries as JSON lines", Tag: "audit",
			Role: RoleReader, Action: "audit.export", Query: auditQuery, Raw: true, Handler: s.auditExport},
		{Method: fiber.MethodGet, Path: "/audit/verify", Summary: "Verify the hash chain; reports the first altered or removed entry", Tag: "audit",
			Role: RoleReader, Action: "audit.verify", Response: audit.Report{}, Handler: s.auditVerify},
	}
}

func (s *Server) auditFilter(c *fiber.Ctx) (audit.Filter, error) {
	limit, cursor, err := pageParams(c)
	if err != nil {
		return audit.Filter{}, err
	}
	since, err := timeParam(c, "since")
	if err != nil {
		return audit.Filter{}, err
	}
	until, err := timeParam(c, "until")
	if err != nil {
		return audit.Filter{}, err
	}
	f := audit.Filter{
		Actor: c.Query("actor"), Action: c.Query("action"),
		ResourceType: c.Query("resource_type"), ResourceID: c.Query("resource_id"),
		Outcome: c.Query("outcome"), Since: since, Until: until, Cursor: cursor, Limit: limit,
	}
	switch c.Query("order", "desc") {
	case "desc":
	case "asc":
		f.Asc = true
	default:
		return f, FieldError("order", "order must be asc or desc, got %q", c.Query("order"))
	}
	switch f.Outcome {
	case "", "success", "failure", "denied", "error":
	default:
		return f, FieldError("outcome", "outcome must be one of success, failure, denied, error; got %q", f.Outcome)
	}
	if f.ResourceID != "" && f.ResourceType == "" {
		return f, FieldError("resource_type", "resource_id needs resource_type")
	}
	return f, nil
}

func (s *Server) auditLogs(security bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, err := s.auditFilter(c)
		if err != nil {
			return err
		}
		if security {
			t := true
			f.Security = &t
		}
		items, next, err := s.svc().Audit.List(c.UserContext(), f)
		if err != nil {
			return err
		}
		return c.JSON(listOf(items, next))
	}
}

func (s *Server) auditStatistics(c *fiber.Ctx) error {
	since, err := timeParam(c, "since")
	if err != nil {
		return err
	}
	until, err := timeParam(c, "until")
	if err != nil {
		return err
	}
	st, err := s.svc().Audit.Statistics(c.UserContext(), since, until)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) auditTrail(c *fiber.Ctx) error {
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	items, next, err := s.svc().Audit.Trail(c.UserContext(), c.Params("type"), c.Params("id"), cursor, limit)
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, next))
}

func (s *Server) auditExport(c *fiber.Ctx) error {
	f, err := s.auditFilter(c)
	if err != nil {
		return err
	}
	f.Limit, f.Cursor, f.Asc = 0, "", c.Query("order") != "desc"
	c.Set(fiber.HeaderContentType, "application/x-ndjson")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		// The stream outlives the handler, so it gets its own deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := s.svc().Audit.Export(ctx, w, f); err != nil {
			s.log.Error("api: audit export", "err", err)
		}
		_ = w.Flush()
	})
	return nil
}

func (s *Server) auditVerify(c *fiber.Ctx) error {
	rep, err := s.svc().Audit.Verify(c.UserContext())
	if err != nil {
		return err
	}
	if !rep.OK {
		AuditOutcome(c, "failure")
		AuditDetail(c, "first_bad", rep.FirstBad)
		c.Status(fiber.StatusConflict)
	}
	return c.JSON(rep)
}
