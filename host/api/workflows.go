package api

import (
	"errors"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/workflow"
)

// ExecuteRequest is the body of POST /workflows/:id/execute.
type ExecuteRequest struct {
	// Context is visible to the steps as event.data.
	Context map[string]any `json:"context"`
}

// ExecutionAccepted answers an execute or retry.
type ExecutionAccepted struct {
	ExecutionID string `json:"execution_id"`
}

// EventRequest is the body of POST /events.
type EventRequest struct {
	Type string         `json:"type" required:"true"`
	Data map[string]any `json:"data"`
}

// EventAccepted answers an accepted event: it is durably stored.
type EventAccepted struct {
	EventID string `json:"event_id"`
}

var eventTypePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$`)

func (s *Server) workflowRoutes() []Route {
	pageQ := map[string]string{"limit": "page size, 1-1000", "cursor": "next_cursor of the previous page", "status": "pending, running, succeeded, failed or cancelled"}
	return []Route{
		{Method: fiber.MethodGet, Path: "/workflows", Summary: "List all workflows with their triggers and next run", Tag: "workflows",
			Role: RoleReader, Action: "workflow.list", Response: Page[workflow.WorkflowInfo]{}, Handler: s.listWorkflows},
		{Method: fiber.MethodGet, Path: "/workflows/:id", Summary: "One workflow", Tag: "workflows",
			Role: RoleReader, Action: "workflow.read", ResourceType: "workflow", ResourceParam: "id", Response: workflow.WorkflowInfo{}, Handler: s.getWorkflow},
		{Method: fiber.MethodPost, Path: "/workflows/:id/execute", Summary: "Trigger a workflow manually; context becomes event.data", Tag: "workflows",
			Role: RoleOperator, Action: "workflow.execute", ResourceType: "workflow", ResourceParam: "id",
			Request: ExecuteRequest{}, Response: ExecutionAccepted{}, Status: fiber.StatusAccepted, Handler: s.executeWorkflow},
		{Method: fiber.MethodGet, Path: "/workflows/:id/executions", Summary: "A workflow's executions, newest first", Tag: "workflows",
			Role: RoleReader, Action: "execution.list", ResourceType: "workflow", ResourceParam: "id", Query: pageQ,
			Response: Page[workflow.ExecutionSummary]{}, Handler: s.listExecutions(true)},
		{Method: fiber.MethodGet, Path: "/executions", Summary: "All executions, newest first", Tag: "workflows",
			Role: RoleReader, Action: "execution.list", Query: map[string]string{"workflow": "filter by workflow", "status": pageQ["status"], "limit": pageQ["limit"], "cursor": pageQ["cursor"]},
			Response: Page[workflow.ExecutionSummary]{}, Handler: s.listExecutions(false)},
		{Method: fiber.MethodGet, Path: "/executions/:id", Summary: "One execution with its steps, attempts, inputs, outputs, errors and logs", Tag: "workflows",
			Role: RoleReader, Action: "execution.read", ResourceType: "execution", ResourceParam: "id", Response: workflow.Execution{}, Handler: s.getExecution},
		{Method: fiber.MethodPost, Path: "/executions/:id/cancel", Summary: "Cancel a pending or running execution", Tag: "workflows",
			Role: RoleOperator, Action: "execution.cancel", ResourceType: "execution", ResourceParam: "id", Handler: s.cancelExecution},
		{Method: fiber.MethodPost, Path: "/executions/:id/retry", Summary: "Retry a failed execution from its failed step", Tag: "workflows",
			Role: RoleOperator, Action: "execution.retry", ResourceType: "execution", ResourceParam: "id",
			Response: ExecutionAccepted{}, Status: fiber.StatusAccepted, Handler: s.retryExecution},
		{Method: fiber.MethodPost, Path: "/events", Summary: "Accept an event; 202 only once it is durably stored", Tag: "events",
			Role: RoleOperator, Action: "event.accept", ResourceType: "event",
			Request: EventRequest{}, Response: EventAccepted{}, Status: fiber.StatusAccepted, Handler: s.postEvent},
		{Method: fiber.MethodPost, Path: "/hooks/:name", Summary: "Inbound webhook, authenticated by HMAC-SHA256 signature or token", Tag: "events",
			Role: RolePublic, Action: "webhook.receive", ResourceType: "webhook", ResourceParam: "name",
			Response: EventAccepted{}, Status: fiber.StatusAccepted, Handler: s.postHook},
	}
}

func (s *Server) engine() (*workflow.Engine, error) {
	if s.svc().Workflows == nil {
		return nil, unavailable("the workflow engine")
	}
	return s.svc().Workflows, nil
}

// workflowError maps engine errors to API errors.
func workflowError(err error, kind, id string) error {
	var bp *events.BackpressureError
	switch {
	case errors.As(err, &bp):
		secs := int(bp.RetryAfter.Seconds() + 0.999)
		if secs < 1 {
			secs = 1
		}
		return &Error{Status: fiber.StatusServiceUnavailable, Code: "backpressure", Message: err.Error(), RetryAfter: secs}
	case errors.Is(err, workflow.ErrNotFound):
		return NotFound(kind, id)
	case errors.Is(err, workflow.ErrDisabled):
		return Errorf(fiber.StatusConflict, "disabled", "%s %q is disabled", kind, id)
	case errors.Is(err, workflow.ErrSkipped):
		return Errorf(fiber.StatusConflict, "skipped", "%s %q is already running and its concurrency policy skips new runs", kind, id)
	case errors.Is(err, workflow.ErrQueueFull):
		return &Error{Status: fiber.StatusTooManyRequests, Code: "queue_full", Message: err.Error(), RetryAfter: 1}
	case errors.Is(err, workflow.ErrConflict):
		return Errorf(fiber.StatusConflict, "conflict", "%v", err)
	case errors.Is(err, workflow.ErrStopped):
		return &Error{Status: fiber.StatusServiceUnavailable, Code: "stopping", Message: "the workflow engine is stopping", RetryAfter: 1}
	case errors.Is(err, events.ErrUnauthorized):
		return &Error{Status: fiber.StatusUnauthorized, Code: "bad_signature", Message: err.Error(), Field: "signature"}
	case strings.Contains(err.Error(), "body is not JSON"):
		return FieldError("body", "%v", err)
	}
	return err
}

func (s *Server) listWorkflows(c *fiber.Ctx) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	return c.JSON(listOf(e.Workflows(), ""))
}

func (s *Server) getWorkflow(c *fiber.Ctx) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	id := c.Params("id")
	for _, w := range e.Workflows() {
		if w.Name == id {
			return c.JSON(w)
		}
	}
	return NotFound("workflow", id)
}

func (s *Server) executeWorkflow(c *fiber.Ctx) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	var req ExecuteRequest
	if err := decodeBody(c, &req, true); err != nil {
		return err
	}
	id := c.Params("id")
	execID, err := e.Execute(c.UserContext(), id, req.Context, PrincipalOf(c).Name)
	if err != nil {
		return workflowError(err, "workflow", id)
	}
	AuditDetail(c, "execution_id", execID)
	return c.Status(fiber.StatusAccepted).JSON(ExecutionAccepted{ExecutionID: execID})
}

func (s *Server) listExecutions(byPath bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		e, err := s.engine()
		if err != nil {
			return err
		}
		limit, cursor, err := pageParams(c)
		if err != nil {
			return err
		}
		f := workflow.ListFilter{Workflow: c.Query("workflow"), Status: workflow.Status(c.Query("status")), Cursor: cursor, Limit: limit}
		if byPath {
			f.Workflow = c.Params("id")
			found := false
			for _, w := range e.Workflows() {
				found = found || w.Name == f.Workflow
			}
			if !found {
				return NotFound("workflow", f.Workflow)
			}
		}
		switch f.Status {
		case "", workflow.StatusPending, workflow.StatusRunning, workflow.StatusSucceeded, workflow.StatusFailed, workflow.StatusCancelled:
		default:
			return FieldError("status", "status must be one of pending, running, succeeded, failed, cancelled; got %q", f.Status)
		}
		items, next, err := e.List(c.UserContext(), f)
		if err != nil {
			return err
		}
		return c.JSON(listOf(items, next))
	}
}

func (s *Server) getExecution(c *fiber.Ctx) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	id := c.Params("id")
	x, err := e.Get(c.UserContext(), id)
	if err != nil {
		return workflowError(err, "execution", id)
	}
	return c.JSON(x)
}

func (s *Server) cancelExecution(c *fiber.Ctx) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	id := c.Params("id")
	if err := e.Cancel(c.UserContext(), id, PrincipalOf(c).Name); err != nil {
		return workflowError(err, "execution", id)
	}
	return c.JSON(fiber.Map{"cancelled": id})
}

func (s *Server) retryExecution(c *fiber.Ctx) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	id := c.Params("id")
	newID, err := e.Retry(c.UserContext(), id, PrincipalOf(c).Name)
	if err != nil {
		return workflowError(err, "execution", id)
	}
	AuditDetail(c, "execution_id", newID)
	return c.Status(fiber.StatusAccepted).JSON(ExecutionAccepted{ExecutionID: newID})
}

func (s *Server) postEvent(c *fiber.Ctx) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	var req EventRequest
	if err := decodeBody(c, &req, false); err != nil {
		return err
	}
	if !eventTypePattern.MatchString(req.Type) {
		return FieldError("type", "type must be 1-200 characters of letters, digits and . _ : / -, starting with a letter or digit; got %q", req.Type)
	}
	id, err := e.AcceptEvent(c.UserContext(), events.Event{Type: req.Type, Data: req.Data, Source: "api:" + PrincipalOf(c).Name})
	if err != nil {
		return workflowError(err, "event", req.Type)
	}
	AuditResource(c, id)
	AuditDetail(c, "type", req.Type)
	return c.Status(fiber.StatusAccepted).JSON(EventAccepted{EventID: id})
}

func (s *Server) postHook(c *fiber.Ctx) error {
	e, err := s.engine()
	if err != nil {
		return err
	}
	name := c.Params("name")
	body := append([]byte(nil), c.Body()...)
	id, err := e.AcceptWebhook(c.UserContext(), name, func(h string) string { return c.Get(h) }, body, c.IP())
	if err != nil {
		AuditOutcome(c, "denied")
		return workflowError(err, "webhook", name)
	}
	AuditDetail(c, "event_id", id)
	return c.Status(fiber.StatusAccepted).JSON(EventAccepted{EventID: id})
}
