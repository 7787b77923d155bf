package api

import (
	"github.com/gofiber/fiber/v2"
)

// allRoutes declares every endpoint, grouped by area.
func (s *Server) allRoutes() []Route {
	var rs []Route
	rs = append(rs, s.coreRoutes()...)
	rs = append(rs, s.tokenRoutes()...)
	rs = append(rs, s.auditRoutes()...)
	rs = append(rs, s.workflowRoutes()...)
	rs = append(rs, s.pluginRoutes()...)
	rs = append(rs, s.discoveryRoutes()...)
	rs = append(rs, s.scalingRoutes()...)
	rs = append(rs, s.intelligenceRoutes()...)
	rs = append(rs, s.healthRoutes()...)
	rs = append(rs, s.streamRoutes()...)
	return rs
}

func (s *Server) coreRoutes() []Route {
	return []Route{
		{Method: fiber.MethodGet, Path: "/status", Summary: "Status of every automation system", Tag: "status",
			Role: RoleReader, Action: "status.read", Response: Status{}, Handler: s.getStatus},
		{Method: fiber.MethodGet, Path: "/health", Summary: "System health: components, checks and healing stats", Tag: "health",
			Role: RoleReader, Action: "health.read", Response: Health{}, Handler: s.getHealth},
		{Method: fiber.MethodGet, Path: "/openapi.json", Summary: "This API as an OpenAPI 3 document", Tag: "meta",
			Role: RoleReader, Action: "openapi.read", Handler: s.getOpenAPI},
		{Method: fiber.MethodGet, Path: "/policies", Summary: "Loaded policy files and objects with their content version", Tag: "policies",
			Role: RoleReader, Action: "policy.list", Response: PoliciesResponse{}, Handler: s.getPolicies},
		{Method: fiber.MethodPost, Path: "/reload", Summary: "Reload the policies directory (validated first; an invalid set changes nothing)", Tag: "policies",
			Role: RoleOperator, Action: "policy.reload", ResourceType: "policy", Response: ReloadResult{}, Handler: s.postReload},
	}
}

func (s *Server) getStatus(c *fiber.Ctx) error {
	if s.svc().Host == nil {
		return unavailable("host")
	}
	return c.JSON(s.svc().Host.Status(c.UserContext()))
}

func (s *Server) getHealth(c *fiber.Ctx) error {
	if s.svc().Host == nil {
		return unavailable("host")
	}
	h := s.svc().Host.Health(c.UserContext())
	if h.OverallStatus == "unhealthy" {
		c.Status(fiber.StatusServiceUnavailable)
	}
	return c.JSON(h)
}

func (s *Server) getOpenAPI(c *fiber.Ctx) error { return c.JSON(s.OpenAPI()) }

// PoliciesResponse is the body of GET /policies.
type PoliciesResponse struct {
	Version    string         `json:"version"`
	Dir        string         `json:"dir"`
	Files      []PolicyFile   `json:"files"`
	Objects    []PolicyObject `json:"objects"`
	LastReload ReloadResult   `json:"last_reload"`
}

// PolicyFile is one loaded file.
type PolicyFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// PolicyObject is one named block.
type PolicyObject struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	File string `json:"file"`
	Line int    `json:"line"`
}

func (s *Server) getPolicies(c *fiber.Ctx) error {
	if s.svc().Host == nil {
		return unavailable("host")
	}
	p := s.svc().Host.Policy()
	out := PoliciesResponse{Files: []PolicyFile{}, Objects: []PolicyObject{}, LastReload: s.svc().Host.LastReload()}
	if p != nil {
		out.Version, out.Dir = p.Version, p.Dir
		for _, f := range p.Files {
			out.Files = append(out.Files, PolicyFile{Path: f.Path, SHA256: f.Hash})
		}
		for _, o := range p.Objects() {
			out.Objects = append(out.Objects, PolicyObject{Kind: o.Kind, Name: o.Name, File: o.File, Line: o.Line})
		}
	}
	return c.JSON(out)
}

func (s *Server) postReload(c *fiber.Ctx) error {
	if s.svc().Host == nil {
		return unavailable("host")
	}
	res := s.svc().Host.Reload(c.UserContext(), PrincipalOf(c).Name, "api")
	AuditResource(c, res.Version)
	AuditDetail(c, "applied", res.Applied)
	AuditDetail(c, "changed", res.Changed)
	if !res.Valid {
		AuditOutcome(c, "failure")
		AuditDetail(c, "diagnostics", res.Diagnostics)
		return c.Status(fiber.StatusUnprocessableEntity).JSON(fiber.Map{
			"error":  Error{Code: "invalid_policies", Message: res.Message, Details: map[string]any{"diagnostics": res.Diagnostics}},
			"reload": res,
		})
	}
	return c.JSON(res)
}

func unavailable(part string) *Error {
	return Errorf(fiber.StatusServiceUnavailable, "unavailable", "%s is not running", part)
}
