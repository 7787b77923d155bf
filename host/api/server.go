// Package api is Heady's REST API under /api/v1/automation, served by Fiber.
//
// Every route is declared once as a Route (method, path, role, request and
// response types, audit action). The same declarations register the Fiber
// handlers, drive authentication and auditing, and generate the OpenAPI
// document, so the three cannot drift apart.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heady-dev/heady/host/auth"
)

// Prefix is the base path of every API route.
const Prefix = "/api/v1/automation"

// Roles, lowest to highest.
const (
	RolePublic   = ""         // no bearer token involved (the handler authenticates, e.g. webhooks)
	RoleReader   = "reader"   // reads; anonymous allowed where the auth policy says so
	RoleOperator = "operator" // runs workflows, emits events, reloads policies
	RoleAdmin    = "admin"    // manages tokens
)

// Route declares one endpoint.
type Route struct {
	Method  string
	Path    string // relative to Prefix, Fiber syntax (":id")
	Summary string
	Tag     string
	Role    string
	// Action is the audit action recorded for this route ("workflow.execute").
	Action string
	// ResourceType and ResourceParam name the resource the audit entry is
	// about: the type, and the path parameter holding its id.
	ResourceType  string
	ResourceParam string
	// Request and Response are example values whose types document the
	// bodies in the OpenAPI document (nil: none / free-form).
	Request  any
	Response any
	// Query documents query parameters: name → description.
	Query map[string]string
	// Status is the success status (200 when zero).
	Status  int
	Handler fiber.Handler
	// Raw marks routes that serve non-JSON (metrics, streams, exports).
	Raw bool
	// Absolute marks a Path that is not under Prefix ("/metrics").
	Absolute bool
}

// Options configure the server.
type Options struct {
	Logger         *slog.Logger
	BodyLimit      int
	RequestTimeout time.Duration
	// AnonymousReads: "loopback", "always" or "never".
	AnonymousReads string
	// Version is the build version reported by the API.
	Version string
	// Cluster, set in cluster mode, adds the /cluster routes and forwards
	// requests that only the leader can answer (see cluster.go).
	Cluster ClusterService
}

// Server is the API server.
type Server struct {
	app    *fiber.App
	opts   Options
	svcp   atomic.Pointer[Services]
	routes []Route
	log    *slog.Logger
	// gateOpen allows anonymous reads, gateStrict does not; the auth
	// policy picks one per request.
	gateOpen, gateStrict *auth.Gate
	// closing ends long polls when Shutdown starts (cluster lease claims).
	closing     chan struct{}
	closingOnce sync.Once
}

// New builds the API server over the host's services.
func New(svc *Services, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = 1 << 20
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.AnonymousReads == "" {
		opts.AnonymousReads = "loopback"
	}
	s := &Server{opts: opts, log: opts.Logger, closing: make(chan struct{})}
	s.svcp.Store(svc)
	if svc.Auth != nil {
		s.gateOpen = auth.NewGate(svc.Auth, svc.Limiter, auth.AnonAlways, false)
		s.gateStrict = auth.NewGate(svc.Auth, svc.Limiter, auth.AnonNever, false)
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "heady",
		BodyLimit:             opts.BodyLimit,
		ReadTimeout:           opts.RequestTimeout,
		WriteTimeout:          opts.RequestTimeout,
		IdleTimeout:           2 * time.Minute,
		ErrorHandler:          errorHandler,
		DisableStartupMessage: true,
		StrictRouting:         false,
		ReadBufferSize:        16 << 10,
		// Values from c.Params, c.Get, c.Query and c.Body are copies:
		// they are kept beyond the request (token cache keys, workflow
		// names in the engine, audit details), and fasthttp reuses its
		// buffers for the next request on the connection.
		Immutable: true,
	})
	s.app.Use(s.recoverer, s.requestID)
	if opts.Cluster != nil {
		s.app.Use(s.forward)
	}
	for _, r := range s.allRoutes() {
		s.add(r)
	}
	if opts.Cluster != nil {
		s.addLeaseRoutes()
		for _, r := range s.clusterRoutes() {
			s.add(r)
		}
	}
	if svc.Mount != nil {
		svc.Mount(s.app)
	}
	s.app.Use(func(c *fiber.Ctx) error {
		return Errorf(fiber.StatusNotFound, "not_found", "no route for %s %s", c.Method(), c.Path())
	})
	return s
}

// svc is the set of services requests are served from now.
func (s *Server) svc() *Services { return s.svcp.Load() }

// SetServices swaps the services the API serves from, atomically: a
// request in flight keeps the set it started with. A cluster server swaps
// them when it gains or loses leadership.
func (s *Server) SetServices(svc *Services) { s.svcp.Store(svc) }

// App exposes the Fiber app (tests use App().Test).
func (s *Server) App() *fiber.App { return s.app }

// Routes lists every declared route.
func (s *Server) Routes() []Route { return s.routes }

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// shutdownGrace bounds how long Shutdown waits for open connections.
const shutdownGrace = 5 * time.Second

// Shutdown stops accepting connections and waits for in-flight requests,
// at most shutdownGrace (or until ctx ends). The server counts a connection
// that was accepted but has not sent a request yet as active until its
// read timeout, so one silent client would otherwise hold the whole host's
// shutdown for request_timeout; what is still open after the grace is cut
// when the process exits.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closingOnce.Do(func() { close(s.closing) })
	gctx, cancel := context.WithTimeout(ctx, shutdownGrace)
	defer cancel()
	err := s.app.ShutdownWithContext(gctx)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("api: connections still open after the shutdown grace; leaving them to the exit", "grace", shutdownGrace)
		return nil
	}
	return err
}

func (s *Server) add(r Route) {
	if r.Status == 0 {
		r.Status = fiber.StatusOK
	}
	s.routes = append(s.routes, r)
	s.app.Add(r.Method, r.FullPath(), s.wrap(r))
}

// FullPath is the absolute path of a route.
func (r Route) FullPath() string {
	if r.Absolute {
		return r.Path
	}
	return Prefix + r.Path
}
