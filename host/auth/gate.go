package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
)

// Anonymous read modes (the auth block's anonymous_reads).
const (
	AnonLoopback = "loopback"
	AnonAlways   = "always"
	AnonNever    = "never"
)

// Gate decides one request: the whole 401/403/429 policy without any HTTP
// framework, so API middleware only translates a Decision into a response
// (and an audit entry).
type Gate struct {
	svc          *Service
	lim          *Limiter
	anonReads    bool
	anonymousCfg string
}

// NewGate combines a token service and a limiter. anonymousReads is
// AnonLoopback (the default when empty), AnonAlways or AnonNever;
// listenerLoopback says whether the API listens on loopback only (see
// IsLoopbackListen). lim may be nil (no lockout).
func NewGate(svc *Service, lim *Limiter, anonymousReads string, listenerLoopback bool) *Gate {
	g := &Gate{svc: svc, lim: lim, anonymousCfg: anonymousReads}
	switch anonymousReads {
	case AnonAlways:
		g.anonReads = true
	case AnonNever:
		g.anonReads = false
	default:
		g.anonReads = listenerLoopback
	}
	return g
}

// AnonymousReads reports whether reads without a token are allowed.
func (g *Gate) AnonymousReads() bool { return g.anonReads }

// Request is what the gate needs to know about one API call.
type Request struct {
	// Authorization is the raw header value, possibly empty.
	Authorization string
	// Source identifies the caller for lockout: the remote IP (see SourceOf).
	Source string
	// Required is the role the route needs; empty means a read (reader, or
	// anonymous when allowed).
	Required string
}

// Decision is the gate's answer.
type Decision struct {
	// Status is http.StatusOK, StatusUnauthorized (401), StatusForbidden
	// (403), StatusTooManyRequests (429) or StatusInternalServerError.
	Status int
	// Token is the authenticated token (nil when anonymous or refused).
	Token *Token
	// Anonymous is true for an allowed read without a token.
	Anonymous bool
	// Reason is a short, client-safe explanation for a refusal.
	Reason string
	// RetryAfter is set with 429.
	RetryAfter time.Duration
	// AuthFailure is true when a presented token was rejected (a security
	// event to audit); LockedOut is true when this failure started a lockout.
	AuthFailure bool
	LockedOut   bool
	// Err is the underlying error for logs (never shown to clients).
	Err error
}

// Authorize decides r. Order: lockout (429), token presence and validity
// (401, failures counted per source), role (403).
func (g *Gate) Authorize(ctx context.Context, r Request) Decision {
	if g.lim != nil {
		if locked, retry := g.lim.Check(r.Source); locked {
			return Decision{Status: http.StatusTooManyRequests, Reason: "too many failed authentication attempts", RetryAfter: retry}
		}
	}
	if strings.TrimSpace(r.Authorization) == "" {
		if r.Required == "" && g.anonReads {
			return Decision{Status: http.StatusOK, Anonymous: true}
		}
		return Decision{Status: http.StatusUnauthorized, Reason: "a bearer token is required"}
	}
	fail := func(reason string, err error) Decision {
		d := Decision{Status: http.StatusUnauthorized, Reason: reason, AuthFailure: true, Err: err}
		if g.lim != nil {
			d.LockedOut = g.lim.Failure(r.Source)
		}
		return d
	}
	plain, ok := ParseBearer(r.Authorization)
	if !ok {
		return fail("malformed Authorization header; want \"Bearer TOKEN\"", ErrInvalid)
	}
	tok, err := g.svc.Authenticate(ctx, plain)
	switch {
	case errors.Is(err, ErrRevoked):
		return fail("token revoked", err)
	case errors.Is(err, ErrExpired):
		return fail("token expired", err)
	case errors.Is(err, ErrInvalid):
		return fail("invalid token", err)
	case err != nil:
		return Decision{Status: http.StatusInternalServerError, Reason: "authentication unavailable", Err: err}
	}
	if g.lim != nil {
		g.lim.Success(r.Source)
	}
	required := r.Required
	if required == "" {
		required = RoleReader
	}
	if !Allowed(tok.Role, required) {
		return Decision{Status: http.StatusForbidden, Token: &tok, Reason: "role " + tok.Role + " may not do this; needs " + required}
	}
	return Decision{Status: http.StatusOK, Token: &tok}
}

// IsLoopbackListen reports whether a listen address binds loopback only
// ("127.0.0.1:3000", "[::1]:3000", "localhost:3000"). An empty host
// (":3000") binds every interface and is not loopback.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SourceOf reduces a remote address ("ip:port") to the IP used as the
// lockout key.
func SourceOf(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}
