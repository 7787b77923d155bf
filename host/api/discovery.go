package api

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/discovery"
	"github.com/heady-dev/heady/host/registry"
)

// DiscoveryServices are the discovery engine and the node registry.
type DiscoveryServices struct {
	Engine   *discovery.Engine
	Registry *registry.Registry
}

// ScanRequest is the body of POST /discovery/scan.
type ScanRequest struct {
	// Source names one discovery policy; empty scans them all.
	Source string `json:"source"`
}

// ScanResponse answers a manual scan.
type ScanResponse struct {
	Scans []discovery.ScanRecord `json:"scans"`
}

// DiscoveredServices is the body of GET /discovery/services.
type DiscoveredServices struct {
	Items   []discovery.Service    `json:"items"`
	Count   int                    `json:"count"`
	Sources []discovery.SourceInfo `json:"sources"`
}

func (s *Server) discoveryRoutes() []Route {
	return []Route{
		{Method: fiber.MethodGet, Path: "/discovery/services", Summary: "Discovered services with their health check and health", Tag: "discovery",
			Role: RoleReader, Action: "discovery.services", Query: map[string]string{"kind": "filter by kind (http, mcp, mdns, node, tcp, ...)", "source": "filter by discovery source"},
			Response: DiscoveredServices{}, Handler: s.discoveredServices},
		{Method: fiber.MethodGet, Path: "/discovery/history", Summary: "Discovery scan history, newest first", Tag: "discovery",
			Role: RoleReader, Action: "discovery.history", Query: map[string]string{"limit": "page size, 1-1000", "cursor": "next_cursor of the previous page"},
			Response: Page[discovery.ScanRecord]{}, Handler: s.discoveryHistory},
		{Method: fiber.MethodPost, Path: "/discovery/scan", Summary: "Scan now: one source, or all of them", Tag: "discovery",
			Role: RoleOperator, Action: "discovery.scan", ResourceType: "discovery",
			Request: ScanRequest{}, Response: ScanResponse{}, Handler: s.discoveryScan},
		{Method: fiber.MethodGet, Path: "/registry/nodes", Summary: "All registered nodes with their state (alive, suspect, dead)", Tag: "registry",
			Role: RoleReader, Action: "registry.nodes", Query: map[string]string{"state": "alive, suspect or dead"},
			Response: Page[registry.Node]{}, Handler: s.registryNodes},
		{Method: fiber.MethodGet, Path: "/registry/nodes/:id", Summary: "One node", Tag: "registry",
			Role: RoleReader, Action: "registry.node.read", ResourceType: "node", ResourceParam: "id",
			Response: registry.Node{}, Handler: s.registryNode},
		{Method: fiber.MethodPost, Path: "/registry/nodes", Summary: "Register a node (or replace its registration)", Tag: "registry",
			Role: RoleOperator, Action: "registry.node.register", ResourceType: "node",
			Request: registry.Registration{}, Response: registry.Node{}, Status: fiber.StatusCreated, Handler: s.registerNode},
		{Method: fiber.MethodPost, Path: "/registry/nodes/:id/heartbeat", Summary: "Send a heartbeat with metrics, services and connections", Tag: "registry",
			Role: RoleOperator, Action: "registry.node.heartbeat", ResourceType: "node", ResourceParam: "id",
			Request: registry.Heartbeat{}, Response: registry.Node{}, Handler: s.nodeHeartbeat},
		{Method: fiber.MethodDelete, Path: "/registry/nodes/:id", Summary: "Deregister a node", Tag: "registry",
			Role: RoleOperator, Action: "registry.node.deregister", ResourceType: "node", ResourceParam: "id",
			Status: fiber.StatusNoContent, Handler: s.deregisterNode},
		{Method: fiber.MethodGet, Path: "/registry/topology", Summary: "System topology: nodes, services, declared and observed connections", Tag: "registry",
			Role: RoleReader, Action: "registry.topology", Query: map[string]string{"format": "json (default), dot or mermaid"},
			Response: registry.Topology{}, Handler: s.registryTopology},
	}
}

func (s *Server) discoverySvc() (*DiscoveryServices, error) {
	if s.svc().Discovery == nil || s.svc().Discovery.Engine == nil || s.svc().Discovery.Registry == nil {
		return nil, unavailable("discovery")
	}
	return s.svc().Discovery, nil
}

func (s *Server) discoveredServices(c *fiber.Ctx) error {
	d, err := s.discoverySvc()
	if err != nil {
		return err
	}
	kind, source := c.Query("kind"), c.Query("source")
	items := []discovery.Service{}
	for _, sv := range d.Engine.Services() {
		if kind != "" && sv.Kind != kind {
			continue
		}
		if source != "" && !contains(sv.Sources, source) {
			continue
		}
		items = append(items, sv)
	}
	return c.JSON(DiscoveredServices{Items: items, Count: len(items), Sources: d.Engine.Sources()})
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Server) discoveryHistory(c *fiber.Ctx) error {
	d, err := s.discoverySvc()
	if err != nil {
		return err
	}
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	recs, next, err := d.Engine.History(limit, cursor)
	if err != nil {
		return err
	}
	return c.JSON(listOf(recs, next))
}

func (s *Server) discoveryScan(c *fiber.Ctx) error {
	d, err := s.discoverySvc()
	if err != nil {
		return err
	}
	var req ScanRequest
	if err := decodeBody(c, &req, true); err != nil {
		return err
	}
	if req.Source != "" {
		AuditResource(c, req.Source)
	}
	recs, err := d.Engine.Scan(c.UserContext(), req.Source, "manual")
	if errors.Is(err, discovery.ErrUnknownSource) {
		return FieldError("source", "no discovery policy named %q", req.Source)
	}
	if err != nil {
		return err
	}
	found, failed := 0, 0
	for _, r := range recs {
		found += r.Found
		if r.Error != "" {
			failed++
		}
	}
	AuditDetail(c, "scans", len(recs))
	AuditDetail(c, "found", found)
	AuditDetail(c, "failed", failed)
	return c.JSON(ScanResponse{Scans: recs})
}

func (s *Server) registryNodes(c *fiber.Ctx) error {
	d, err := s.discoverySvc()
	if err != nil {
		return err
	}
	state := c.Query("state")
	switch state {
	case "", registry.StateAlive, registry.StateSuspect, registry.StateDead:
	default:
		return FieldError("state", "state must be alive, suspect or dead, not %q", state)
	}
	out := []registry.Node{}
	for _, n := range d.Registry.Nodes() {
		if state == "" || n.State == state {
			out = append(out, n)
		}
	}
	return c.JSON(listOf(out, ""))
}

func (s *Server) registryNode(c *fiber.Ctx) error {
	d, err := s.discoverySvc()
	if err != nil {
		return err
	}
	n, ok := d.Registry.Get(c.Params("id"))
	if !ok {
		return NotFound("node", c.Params("id"))
	}
	return c.JSON(n)
}

func registryError(err error, id string) error {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return NotFound("node", id)
	case errors.Is(err, registry.ErrInvalid):
		msg := strings.TrimPrefix(err.Error(), registry.ErrInvalid.Error()+": ")
		field, _, _ := strings.Cut(msg, " ")
		field = strings.TrimSuffix(field, ":")
		return FieldError(field, "%s", msg)
	}
	return err
}

func (s *Server) registerNode(c *fiber.Ctx) error {
	d, err := s.discoverySvc()
	if err != nil {
		return err
	}
	var reg registry.Registration
	if err := decodeBody(c, &reg, false); err != nil {
		return err
	}
	if reg.Source == "" {
		reg.Source = "api"
	}
	n, err := d.Registry.Register(c.UserContext(), reg)
	if err != nil {
		return registryError(err, reg.ID)
	}
	AuditResource(c, n.ID)
	AuditDetail(c, "address", n.Address)
	c.Status(fiber.StatusCreated)
	return c.JSON(n)
}

func (s *Server) nodeHeartbeat(c *fiber.Ctx) error {
	d, err := s.discoverySvc()
	if err != nil {
		return err
	}
	var hb registry.Heartbeat
	if err := decodeBody(c, &hb, true); err != nil {
		return err
	}
	id := c.Params("id")
	n, err := d.Registry.Heartbeat(c.UserContext(), id, hb)
	if err != nil {
		return registryError(err, id)
	}
	return c.JSON(n)
}

func (s *Server) deregisterNode(c *fiber.Ctx) error {
	d, err := s.discoverySvc()
	if err != nil {
		return err
	}
	id := c.Params("id")
	if err := d.Registry.Deregister(c.UserContext(), id); err != nil {
		return registryError(err, id)
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) registryTopology(c *fiber.Ctx) error {
	d, err := s.discoverySvc()
	if err != nil {
		return err
	}
	var ext []registry.Service
	for _, sv := range d.Engine.Services() {
		if sv.Kind == "node" {
			continue
		}
		ext = append(ext, registry.Service{ID: sv.ID, Name: sv.Name, Kind: sv.Kind, Address: sv.Address, Port: sv.Port,
			URL: sv.URL, Labels: sv.Labels, Health: sv.Health})
	}
	t := d.Registry.Topology(ext)
	switch c.Query("format", "json") {
	case "json":
		return c.JSON(t)
	case "dot":
		c.Set(fiber.HeaderContentType, "text/vnd.graphviz; charset=utf-8")
		return c.SendString(t.DOT())
	case "mermaid":
		c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
		return c.SendString(t.Mermaid())
	default:
		return FieldError("format", "format must be json, dot or mermaid, not %q", c.Query("format"))
	}
}
