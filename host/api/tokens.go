package api

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/auth"
)

// TokenRequest is the body of POST /tokens.
type TokenRequest struct {
	Name string `json:"name" required:"true"`
	Role string `json:"role" required:"true"`
	// TTL is a duration ("720h"); empty never expires.
	TTL string `json:"ttl,omitempty"`
}

// TokenCreated is the answer to POST /tokens; Token is shown only here.
type TokenCreated struct {
	Token string     `json:"token"`
	Info  auth.Token `json:"info"`
}

func (s *Server) tokenRoutes() []Route {
	return []Route{
		{Method: fiber.MethodGet, Path: "/tokens", Summary: "List API tokens (never their secrets)", Tag: "auth",
			Role: RoleAdmin, Action: "token.list", Response: Page[auth.Token]{}, Handler: s.listTokens},
		{Method: fiber.MethodPost, Path: "/tokens", Summary: "Create an API token; the token string is shown once", Tag: "auth",
			Role: RoleAdmin, Action: "token.create", ResourceType: "token", Request: TokenRequest{}, Response: TokenCreated{},
			Status: fiber.StatusCreated, Handler: s.createToken},
		{Method: fiber.MethodDelete, Path: "/tokens/:id", Summary: "Revoke an API token", Tag: "auth",
			Role: RoleAdmin, Action: "token.revoke", ResourceType: "token", ResourceParam: "id", Handler: s.revokeToken},
	}
}

func (s *Server) listTokens(c *fiber.Ctx) error {
	toks, err := s.svc().Auth.List(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(listOf(toks, ""))
}

func (s *Server) createToken(c *fiber.Ctx) error {
	var req TokenRequest
	if err := decodeBody(c, &req, false); err != nil {
		return err
	}
	if req.Name == "" {
		return FieldError("name", "name is required")
	}
	if !auth.ValidRole(req.Role) {
		return FieldError("role", "role must be one of reader, operator, admin; got %q", req.Role)
	}
	var ttl time.Duration
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d <= 0 {
			return FieldError("ttl", "ttl must be a positive duration such as \"720h\", got %q", req.TTL)
		}
		ttl = d
	}
	plain, tok, err := s.svc().Auth.Create(c.UserContext(), req.Name, req.Role, ttl, PrincipalOf(c).Name)
	if err != nil {
		return err
	}
	AuditResource(c, tok.ID)
	AuditDetail(c, "name", tok.Name)
	AuditDetail(c, "role", tok.Role)
	return c.Status(fiber.StatusCreated).JSON(TokenCreated{Token: plain, Info: tok})
}

func (s *Server) revokeToken(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := s.svc().Auth.Revoke(c.UserContext(), id); err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			return NotFound("token", id)
		}
		return err
	}
	return c.JSON(fiber.Map{"revoked": id})
}
