package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/proxy"

	"github.com/heady-dev/heady/host/cluster"
)

// ClusterService is the API's view of a cluster server (cluster mode only).
type ClusterService interface {
	// Target says where a request is answered: locally (this server leads
	// and its duties run) or at the leader's API base URL ("" while no
	// leader is known).
	Target() (local bool, leaderAPI string)
	// Staleness bounds how old this server's local state may be: the time
	// since it last heard from the leader (-1: never).
	Staleness() time.Duration
	Status(ctx context.Context) any
	Members(ctx context.Context) (any, error)
	// Join adds the server at a cluster address; Remove removes one by
	// ID; Leave takes this server out of the cluster.
	Join(ctx context.Context, addr string) error
	Remove(ctx context.Context, id string) error
	Leave(ctx context.Context) error
	// Leases is the lease queue while this server leads (nil otherwise).
	Leases() *cluster.Queue
	// AuthorizeWorker checks the bearer token of a lease call.
	AuthorizeWorker(ctx context.Context, bearer string) bool
	// ClientSecret signs the client a follower vouches for when it
	// forwards a request (every server of the cluster shares it).
	ClientSecret() []byte
}

// Cluster request headers.
const (
	// HeaderConsistency "stale" lets a follower answer a read from its own
	// state instead of forwarding it to the leader.
	HeaderConsistency = "X-Heady-Consistency"
	// HeaderStaleness is set on reads a follower answered locally: the
	// milliseconds since it last heard from the leader (-1: never).
	HeaderStaleness = "X-Heady-Staleness-Ms"
	// HeaderForwarded marks a request a follower forwarded to the leader;
	// a server never forwards such a request again.
	HeaderForwarded = "X-Heady-Forwarded"
	// HeaderClient carries, signed, the client a follower forwards for:
	// "IP;LOOPBACK;HMAC", so the leader applies lockout and the anonymous
	// read rule to the real client rather than to the follower.
	HeaderClient = "X-Heady-Client"
)

// signClient is the HeaderClient value for a client.
func signClient(secret []byte, ip string, loopback bool) string {
	v := ip + ";" + strconv.FormatBool(loopback)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(v))
	return v + ";" + hex.EncodeToString(m.Sum(nil))
}

// clientOf is who a request comes from: its remote address, or the client
// a cluster server vouched for with a valid HeaderClient.
func (s *Server) clientOf(c *fiber.Ctx) (ip string, loopback bool) {
	ip = c.IP()
	loopback = isLoopback(c.Context().LocalAddr()) && isLoopback(c.Context().RemoteAddr())
	h := c.Get(HeaderClient)
	if h == "" || s.opts.Cluster == nil {
		return ip, loopback
	}
	parts := strings.Split(h, ";")
	if len(parts) != 3 || !hmac.Equal([]byte(signClient(s.opts.Cluster.ClientSecret(), parts[0], parts[1] == "true")), []byte(h)) {
		return ip, loopback
	}
	return parts[0], parts[1] == "true"
}

// forward answers requests only the leader can answer by proxying them to
// the leader, so clients may talk to any server. Followers answer the
// /cluster routes, /status and /health themselves, and reads that ask for
// stale consistency from their own state, with a staleness header. Forwarded requests carry
// the client's own credentials: the leader authenticates, authorises and
// audits them.
func (s *Server) forward(c *fiber.Ctx) error {
	path := c.Path()
	if !strings.HasPrefix(path, Prefix) && path != "/metrics" {
		return c.Next()
	}
	// The lease protocol is the leader's; the rest of /cluster is local.
	if strings.HasPrefix(path, Prefix+"/cluster") && !strings.HasPrefix(path, Prefix+"/cluster/leases") {
		return c.Next()
	}
	local, leader := s.opts.Cluster.Target()
	if local {
		return c.Next()
	}
	read := c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead
	// /status and /health describe this server, so each answers them.
	own := path == Prefix+"/status" || path == Prefix+"/health"
	if read && (own || strings.EqualFold(c.Get(HeaderConsistency), "stale") || c.Query("stale") != "") {
		c.Set(HeaderStaleness, strconv.FormatInt(s.opts.Cluster.Staleness().Milliseconds(), 10))
		return c.Next()
	}
	if leader == "" || c.Get(HeaderForwarded) != "" {
		return &Error{Status: fiber.StatusServiceUnavailable, Code: "no_leader", RetryAfter: 1,
			Message: "the cluster has no leader ready to serve this request; retry shortly"}
	}
	c.Request().Header.Set(HeaderForwarded, "1")
	c.Request().Header.Set(fiber.HeaderXForwardedFor, c.IP())
	ip, lo := s.clientOf(c)
	c.Request().Header.Set(HeaderClient, signClient(s.opts.Cluster.ClientSecret(), ip, lo))
	if err := proxy.DoTimeout(c, leader+string(c.Request().URI().RequestURI()), s.opts.RequestTimeout); err != nil {
		return &Error{Status: fiber.StatusServiceUnavailable, Code: "no_leader", RetryAfter: 1,
			Message: "forwarding to the leader failed: " + err.Error()}
	}
	c.Response().Header.Del(fiber.HeaderServer)
	return nil
}

// ClusterJoinRequest is the body of POST /cluster/members.
type ClusterJoinRequest struct {
	// Address is the new server's cluster address (HOST:PORT).
	Address string `json:"address"`
}

func (s *Server) clusterRoutes() []Route {
	return []Route{
		{Method: fiber.MethodGet, Path: "/cluster/status", Summary: "This server's view of the cluster: leader, term, commit index, members", Tag: "cluster",
			Role: RoleReader, Action: "cluster.status", Handler: s.getClusterStatus},
		{Method: fiber.MethodGet, Path: "/cluster/members", Summary: "Servers in the cluster with their state", Tag: "cluster",
			Role: RoleReader, Action: "cluster.members", Handler: s.getClusterMembers},
		{Method: fiber.MethodPost, Path: "/cluster/members", Summary: "Add a server to the cluster", Tag: "cluster",
			Role: RoleAdmin, Action: "cluster.join", ResourceType: "server", Request: ClusterJoinRequest{}, Handler: s.postClusterMember},
		{Method: fiber.MethodDelete, Path: "/cluster/members/:id", Summary: "Remove a server (a dead one) from the cluster", Tag: "cluster",
			Role: RoleAdmin, Action: "cluster.remove", ResourceType: "server", ResourceParam: "id", Handler: s.deleteClusterMember},
		{Method: fiber.MethodGet, Path: "/cluster/leases", Summary: "Step calls waiting or leased, and the workers (leader only)", Tag: "cluster",
			Role: RoleReader, Action: "cluster.leases", Handler: s.getLeases},
		{Method: fiber.MethodPost, Path: "/cluster/leave", Summary: "Take this server out of the cluster", Tag: "cluster",
			Role: RoleAdmin, Action: "cluster.leave", ResourceType: "server", Handler: s.postClusterLeave},
	}
}

func (s *Server) getClusterStatus(c *fiber.Ctx) error {
	return c.JSON(s.opts.Cluster.Status(c.UserContext()))
}

func (s *Server) getClusterMembers(c *fiber.Ctx) error {
	m, err := s.opts.Cluster.Members(c.UserContext())
	if err != nil {
		return Errorf(fiber.StatusServiceUnavailable, "cluster", "%v", err)
	}
	return c.JSON(fiber.Map{"members": m})
}

func (s *Server) postClusterMember(c *fiber.Ctx) error {
	var req ClusterJoinRequest
	if err := decodeBody(c, &req, false); err != nil {
		return err
	}
	if req.Address == "" {
		return FieldError("address", "address is required (the new server's cluster HOST:PORT)")
	}
	AuditResource(c, req.Address)
	if err := s.opts.Cluster.Join(c.UserContext(), req.Address); err != nil {
		return Errorf(fiber.StatusBadGateway, "cluster", "%v", err)
	}
	return c.JSON(fiber.Map{"joined": req.Address})
}

func (s *Server) deleteClusterMember(c *fiber.Ctx) error {
	id, err := url.PathUnescape(c.Params("id"))
	if err != nil {
		return FieldError("id", "invalid server id: %v", err)
	}
	if err := s.opts.Cluster.Remove(c.UserContext(), id); err != nil {
		return Errorf(fiber.StatusBadGateway, "cluster", "%v", err)
	}
	return c.JSON(fiber.Map{"removed": id})
}

func (s *Server) postClusterLeave(c *fiber.Ctx) error {
	if err := s.opts.Cluster.Leave(c.UserContext()); err != nil {
		return Errorf(fiber.StatusBadGateway, "cluster", "%v", err)
	}
	return c.JSON(fiber.Map{"left": true})
}

// Lease protocol (workers: servers and agents). These routes are served
// only by the leader (followers forward them), authenticate with the
// servers' worker token or an operator token, and are not audited: they
// are the cluster's internal work traffic, like Raft's.
func (s *Server) addLeaseRoutes() {
	s.app.Post(Prefix+cluster.LeaseClaimPath, s.leaseCall(func(c *fiber.Ctx, q *cluster.Queue) error {
		var req cluster.ClaimRequest
		if err := decodeBody(c, &req, false); err != nil {
			return err
		}
		if req.Worker.ID == "" {
			return FieldError("worker.id", "worker.id is required")
		}
		wait := time.Duration(req.WaitMs) * time.Millisecond
		if wait <= 0 || wait > cluster.MaxClaimWait {
			wait = cluster.MaxClaimWait
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		go func() {
			select {
			case <-s.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		tasks, err := q.Claim(ctx, req.Worker, min(max(req.Max, 1), 64))
		if err != nil {
			return Errorf(fiber.StatusServiceUnavailable, "no_leader", "%v", err)
		}
		if tasks == nil {
			tasks = []cluster.Task{}
		}
		return c.JSON(cluster.ClaimResponse{Tasks: tasks})
	}))
	s.app.Post(Prefix+cluster.LeaseHeartbeatPath, s.leaseCall(func(c *fiber.Ctx, q *cluster.Queue) error {
		var req cluster.HeartbeatRequest
		if err := decodeBody(c, &req, false); err != nil {
			return err
		}
		lost := q.Heartbeat(req.Worker, req.Leases)
		if lost == nil {
			lost = []string{}
		}
		return c.JSON(cluster.HeartbeatResponse{Lost: lost})
	}))
	s.app.Post(Prefix+cluster.LeaseCompletePath, s.leaseCall(func(c *fiber.Ctx, q *cluster.Queue) error {
		var req cluster.CompleteRequest
		if err := decodeBody(c, &req, false); err != nil {
			return err
		}
		if err := q.Complete(req.Worker, req.ID, req.Result); err != nil {
			return Errorf(fiber.StatusNotFound, "unknown_lease", "%v", err)
		}
		return c.SendStatus(fiber.StatusNoContent)
	}))
}

func (s *Server) leaseCall(h func(c *fiber.Ctx, q *cluster.Queue) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		bearer, _ := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok := s.opts.Cluster.AuthorizeWorker(ctx, bearer)
		cancel()
		if !ok {
			return Errorf(fiber.StatusUnauthorized, "unauthorized", "lease calls need the cluster worker token or an operator token")
		}
		q := s.opts.Cluster.Leases()
		if q == nil {
			return &Error{Status: fiber.StatusServiceUnavailable, Code: "no_leader", RetryAfter: 1, Message: "this server does not lead"}
		}
		return h(c, q)
	}
}

func (s *Server) getLeases(c *fiber.Ctx) error {
	q := s.opts.Cluster.Leases()
	if q == nil {
		return &Error{Status: fiber.StatusServiceUnavailable, Code: "no_leader", RetryAfter: 1, Message: "this server does not lead"}
	}
	return c.JSON(q.Stats())
}
