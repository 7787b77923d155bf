package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/pluginhost"
	"github.com/heady-dev/heady/sdk"
)

func (s *Server) pluginRoutes() []Route {
	return []Route{
		{Method: fiber.MethodGet, Path: "/plugins", Summary: "Plugins: version, components, pid, state, restarts, last error", Tag: "plugins",
			Role: RoleReader, Action: "plugin.list", Response: Page[pluginhost.Status]{}, Handler: s.listPlugins},
		{Method: fiber.MethodGet, Path: "/plugins/:name/schema", Summary: "A plugin's manifest: components and their config schemas", Tag: "plugins",
			Role: RoleReader, Action: "plugin.schema", ResourceType: "plugin", ResourceParam: "name", Response: sdk.Manifest{}, Handler: s.pluginSchema},
	}
}

func (s *Server) listPlugins(c *fiber.Ctx) error {
	if s.svc().Plugins == nil {
		return unavailable("the plugin host")
	}
	return c.JSON(listOf(s.svc().Plugins.List(), ""))
}

func (s *Server) pluginSchema(c *fiber.Ctx) error {
	if s.svc().Plugins == nil {
		return unavailable("the plugin host")
	}
	name := c.Params("name")
	m, ok := s.svc().Plugins.Schema(name)
	if !ok {
		return NotFound("plugin", name)
	}
	return c.JSON(m)
}
