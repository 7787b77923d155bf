package api

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/healing"
	"github.com/heady-dev/heady/host/services"
)

// HealingService is the self-healing engine and the service supervisor as
// the API sees them.
type HealingService interface {
	// Checks lists every health check with its configuration and state.
	Checks(ctx context.Context) []healing.CheckInfo
	// RunCheck runs one check now (flap protection and healing apply).
	RunCheck(ctx context.Context, name string) (healing.CheckInfo, error)
	// Incidents lists the healing history, newest first.
	Incidents(ctx context.Context, limit int, cursor, check string) ([]healing.Incident, string, error)
	// Incident returns one incident.
	Incident(ctx context.Context, id string) (healing.Incident, error)
	// Alerts lists unresolved alerts.
	Alerts(ctx context.Context) []healing.OpenAlert
	// Services lists the supervised services.
	Services(ctx context.Context) []services.Status
	// RestartService restarts a supervised service on an operator's request
	// (a failed service too: its budget starts over).
	RestartService(ctx context.Context, name, actor string) (services.Status, error)
}

func (s *Server) healthRoutes() []Route {
	pageQ := map[string]string{"limit": "page size, 1-1000", "cursor": "next_cursor of the previous page", "check": "only this check's incidents"}
	return []Route{
		{Method: fiber.MethodGet, Path: "/health/checks", Summary: "Every health check with its configuration and state", Tag: "health",
			Role: RoleReader, Action: "health.check.list", Response: Page[healing.CheckInfo]{}, Handler: s.listChecks},
		{Method: fiber.MethodGet, Path: "/health/checks/:name", Summary: "One health check", Tag: "health",
			Role: RoleReader, Action: "health.check.read", ResourceType: "check", ResourceParam: "name", Response: healing.CheckInfo{}, Handler: s.getCheck},
		{Method: fiber.MethodPost, Path: "/health/checks/:name/run", Summary: "Run a health check now (flap protection and healing apply)", Tag: "health",
			Role: RoleOperator, Action: "health.check.run", ResourceType: "check", ResourceParam: "name", Response: healing.CheckInfo{}, Handler: s.runCheck},
		{Method: fiber.MethodGet, Path: "/health/incidents", Summary: "Healing history: incidents with their strategies, attempts, outcome and duration, newest first", Tag: "health",
			Role: RoleReader, Action: "health.incident.list", Query: pageQ, Response: Page[healing.Incident]{}, Handler: s.listIncidents},
		{Method: fiber.MethodGet, Path: "/health/incidents/:id", Summary: "One incident", Tag: "health",
			Role: RoleReader, Action: "health.incident.read", ResourceType: "incident", ResourceParam: "id", Response: healing.Incident{}, Handler: s.getIncident},
		{Method: fiber.MethodGet, Path: "/health/alerts", Summary: "Unresolved alerts", Tag: "health",
			Role: RoleReader, Action: "health.alert.list", Response: Page[healing.OpenAlert]{}, Handler: s.listAlerts},
		{Method: fiber.MethodGet, Path: "/services", Summary: "Supervised services with their process, restarts and budget", Tag: "services",
			Role: RoleReader, Action: "service.list", Response: Page[services.Status]{}, Handler: s.listServices},
		{Method: fiber.MethodGet, Path: "/services/:name", Summary: "One supervised service", Tag: "services",
			Role: RoleReader, Action: "service.read", ResourceType: "service", ResourceParam: "name", Response: services.Status{}, Handler: s.getService},
		{Method: fiber.MethodPost, Path: "/services/:name/restart", Summary: "Restart a supervised service (a failed one too: its restart budget starts over)", Tag: "services",
			Role: RoleOperator, Action: "service.restart", ResourceType: "service", ResourceParam: "name", Response: services.Status{}, Handler: s.restartService},
	}
}

func (s *Server) healing() (HealingService, error) {
	if s.svc().Healing == nil {
		return nil, unavailable("the healing engine")
	}
	return s.svc().Healing, nil
}

func (s *Server) listChecks(c *fiber.Ctx) error {
	h, err := s.healing()
	if err != nil {
		return err
	}
	return c.JSON(listOf(h.Checks(c.UserContext()), ""))
}

func (s *Server) getCheck(c *fiber.Ctx) error {
	h, err := s.healing()
	if err != nil {
		return err
	}
	name := c.Params("name")
	for _, ci := range h.Checks(c.UserContext()) {
		if ci.Name == name {
			return c.JSON(ci)
		}
	}
	return NotFound("check", name)
}

func (s *Server) runCheck(c *fiber.Ctx) error {
	h, err := s.healing()
	if err != nil {
		return err
	}
	name := c.Params("name")
	ci, err := h.RunCheck(c.UserContext(), name)
	if errors.Is(err, healing.ErrNotFound) {
		return NotFound("check", name)
	}
	if err != nil {
		return err
	}
	AuditDetail(c, "status", ci.State.Status)
	return c.JSON(ci)
}

func (s *Server) listIncidents(c *fiber.Ctx) error {
	h, err := s.healing()
	if err != nil {
		return err
	}
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	items, next, err := h.Incidents(c.UserContext(), limit, cursor, c.Query("check"))
	if err != nil {
		return err
	}
	return c.JSON(listOf(items, next))
}

func (s *Server) getIncident(c *fiber.Ctx) error {
	h, err := s.healing()
	if err != nil {
		return err
	}
	id := c.Params("id")
	inc, err := h.Incident(c.UserContext(), id)
	if errors.Is(err, healing.ErrNotFound) {
		return NotFound("incident", id)
	}
	if err != nil {
		return err
	}
	return c.JSON(inc)
}

func (s *Server) listAlerts(c *fiber.Ctx) error {
	h, err := s.healing()
	if err != nil {
		return err
	}
	return c.JSON(listOf(h.Alerts(c.UserContext()), ""))
}

func (s *Server) listServices(c *fiber.Ctx) error {
	h, err := s.healing()
	if err != nil {
		return err
	}
	return c.JSON(listOf(h.Services(c.UserContext()), ""))
}

func (s *Server) getService(c *fiber.Ctx) error {
	h, err := s.healing()
	if err != nil {
		return err
	}
	name := c.Params("name")
	for _, st := range h.Services(c.UserContext()) {
		if st.Name == name {
			return c.JSON(st)
		}
	}
	return NotFound("service", name)
}

func (s *Server) restartService(c *fiber.Ctx) error {
	h, err := s.healing()
	if err != nil {
		return err
	}
	name := c.Params("name")
	st, err := h.RestartService(c.UserContext(), name, PrincipalOf(c).Name)
	switch {
	case errors.Is(err, services.ErrNotFound):
		return NotFound("service", name)
	case err != nil:
		return Errorf(fiber.StatusConflict, "restart_failed", "%v", err)
	}
	AuditDetail(c, "pid", st.PID)
	return c.JSON(st)
}
