package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/auth"
)

// Locals keys.
const (
	localRequestID    = "heady.request_id"
	localPrincipal    = "heady.principal"
	localError        = "heady.error"
	localAuditDetails = "heady.audit_details"
	localAuditID      = "heady.audit_resource_id"
	localAuditOutcome = "heady.audit_outcome"
)

// Principal is who made a request.
type Principal struct {
	TokenID string
	Name    string
	Role    string
	// Kind is "token" or "anonymous".
	Kind string
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (s *Server) recoverer(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("api: handler panicked", "panic", fmt.Sprint(r), "path", c.Path(), "stack", string(debug.Stack()))
			err = Errorf(fiber.StatusInternalServerError, "internal", "internal error")
		}
	}()
	return c.Next()
}

func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Locals(localRequestID, id)
	c.Set("X-Request-Id", id)
	return c.Next()
}

// RequestID returns the request's id.
func RequestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// PrincipalOf returns who made the request.
func PrincipalOf(c *fiber.Ctx) Principal {
	p, _ := c.Locals(localPrincipal).(Principal)
	if p.Kind == "" {
		p = Principal{Name: "anonymous", Kind: "anonymous"}
	}
	return p
}

// AuditDetail adds a detail to the request's audit entry.
func AuditDetail(c *fiber.Ctx, key string, value any) {
	m, _ := c.Locals(localAuditDetails).(map[string]any)
	if m == nil {
		m = map[string]any{}
		c.Locals(localAuditDetails, m)
	}
	m[key] = value
}

// AuditResource sets the resource id of the request's audit entry (for
// routes that create a resource).
func AuditResource(c *fiber.Ctx, id string) { c.Locals(localAuditID, id) }

// AuditOutcome overrides the outcome recorded for the request.
func AuditOutcome(c *fiber.Ctx, outcome string) { c.Locals(localAuditOutcome, outcome) }

// wrap applies lockout, authentication, authorisation, a deadline, the
// handler and the audit entry, in that order. The audit entry is durable
// before the response leaves.
func (s *Server) wrap(r Route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestTimeout)
		defer cancel()
		c.SetUserContext(ctx)

		err := s.authorize(c, r)
		if err == nil {
			err = r.Handler(c)
		}
		if err != nil {
			// Render now so the audit entry sees the final status.
			if herr := errorHandler(c, err); herr != nil {
				return herr
			}
		}
		s.record(c, r, start)
		return nil
	}
}

// authorize decides whether the request may run the route: lockout (429),
// token validity (401), role (403). Anonymous reads are allowed by the auth
// policy; with "loopback" only for requests that arrive over loopback.
func (s *Server) authorize(c *fiber.Ctx, r Route) error {
	if r.Role == RolePublic {
		return nil
	}
	if s.svc().Auth == nil {
		return unavailable("authentication")
	}
	g := s.gateStrict
	if s.anonymousAllowed(c) {
		g = s.gateOpen
	}
	src, _ := s.clientOf(c)
	req := auth.Request{Authorization: c.Get(fiber.HeaderAuthorization), Source: src, Required: r.Role}
	if r.Role == RoleReader {
		req.Required = ""
	}
	d := g.Authorize(c.UserContext(), req)
	if d.Token != nil {
		c.Locals(localPrincipal, Principal{TokenID: d.Token.ID, Name: d.Token.Name, Role: d.Token.Role, Kind: "token"})
	}
	if d.Status == fiber.StatusOK {
		return nil
	}
	AuditOutcome(c, "denied")
	if d.Err != nil {
		AuditDetail(c, "auth_error", d.Err.Error())
	}
	if d.LockedOut && s.svc().Audit != nil {
		_, _ = s.svc().Audit.Append(c.UserContext(), audit.Entry{
			Actor: "heady", ActorKind: "system", Action: "auth.lockout", ResourceType: "source", ResourceID: src,
			Source: src, Outcome: "denied", Security: true, RequestID: RequestID(c),
			Details: map[string]any{"reason": "repeated authentication failures"},
		})
	}
	switch d.Status {
	case fiber.StatusTooManyRequests:
		secs := int(d.RetryAfter.Seconds() + 0.999)
		if secs < 1 {
			secs = 1
		}
		return &Error{Status: d.Status, Code: "locked_out", RetryAfter: secs,
			Message: fmt.Sprintf("%s from %s; try again in %ds", d.Reason, src, secs)}
	case fiber.StatusUnauthorized:
		return &Error{Status: d.Status, Code: "unauthorized", Field: "Authorization",
			Message: fmt.Sprintf("%s: %s %s needs a bearer token with role %s", d.Reason, r.Method, r.FullPath(), r.Role),
			Details: map[string]any{"required_role": r.Role}}
	case fiber.StatusForbidden:
		return &Error{Status: d.Status, Code: "forbidden", Message: fmt.Sprintf("token %q: %s", d.Token.Name, d.Reason),
			Details: map[string]any{"required_role": r.Role, "role": d.Token.Role}}
	default:
		return Errorf(fiber.StatusInternalServerError, "internal", "%s", d.Reason)
	}
}

// anonymousAllowed applies the auth policy to an unauthenticated read.
func (s *Server) anonymousAllowed(c *fiber.Ctx) bool {
	switch s.opts.AnonymousReads {
	case "always":
		return true
	case "never":
		return false
	}
	_, loopback := s.clientOf(c)
	return loopback
}

func isLoopback(a net.Addr) bool {
	if a == nil {
		return false
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		host = a.String()
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// record writes the request's audit entry and access log line.
func (s *Server) record(c *fiber.Ctx, r Route, start time.Time) {
	status := c.Response().StatusCode()
	p := PrincipalOf(c)
	outcome, _ := c.Locals(localAuditOutcome).(string)
	if outcome == "" {
		switch {
		case status >= 500:
			outcome = "error"
		case status == fiber.StatusUnauthorized || status == fiber.StatusForbidden || status == fiber.StatusTooManyRequests:
			outcome = "denied"
		case status >= 400:
			outcome = "failure"
		default:
			outcome = "success"
		}
	}
	dur := time.Since(start)
	if s.svc().Scaling != nil {
		s.svc().Scaling.ObserveRequest(c.Method(), r.FullPath(), status, dur)
	}
	s.log.Debug("api request", "method", c.Method(), "path", c.Path(), "status", status,
		"duration_ms", float64(dur.Microseconds())/1000, "request_id", RequestID(c), "actor", p.Name)
	if s.svc().Audit == nil {
		return
	}
	action := r.Action
	if action == "" {
		action = "api." + c.Method()
	}
	resID, _ := c.Locals(localAuditID).(string)
	if resID == "" && r.ResourceParam != "" {
		resID = c.Params(r.ResourceParam)
	}
	details, _ := c.Locals(localAuditDetails).(map[string]any)
	if details == nil {
		details = map[string]any{}
	}
	details["method"] = c.Method()
	details["path"] = c.Path()
	details["status"] = status
	details["duration_ms"] = float64(dur.Microseconds()) / 1000
	if ae, ok := c.Locals(localError).(*Error); ok && ae != nil {
		details["error"] = ae.Message
	}
	source, _ := s.clientOf(c)
	e := audit.Entry{
		Actor: p.Name, ActorKind: p.Kind, Action: action,
		ResourceType: r.ResourceType, ResourceID: resID, Source: source, Outcome: outcome,
		Security: outcome == "denied", RequestID: RequestID(c), Details: details,
	}
	// A fresh context: the entry must be written even when the handler's
	// deadline has passed.
	actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.svc().Audit.Append(actx, e); err != nil {
		// Nothing may be answered as done without its audit entry.
		s.log.Error("api: audit append failed", "err", err, "request_id", RequestID(c))
		c.Response().ResetBody()
		_ = errorHandler(c, Errorf(fiber.StatusServiceUnavailable, "audit_unavailable", "the audit trail could not record this request: %v", err))
	}
}
