// Package auth holds Heady's API tokens and the failed-login lockout.
//
// A token is "hdy_<id>_<secret>": id is 16 hex characters, secret is 32
// random bytes in hex. Only the SHA-256 of the secret is stored, under
// token/<id>; the plain token is shown once at creation and never written by
// this package (except the bootstrap token file, the operator's one-time
// handover, see Bootstrap). Roles are ordered reader < operator < admin.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heady-dev/heady/host/store"
)

// Roles.
const (
	RoleReader   = "reader"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// Token prefix and the bootstrap token file name inside the data directory.
const (
	Prefix            = "hdy_"
	BootstrapFile     = "bootstrap-token"
	BootstrapName     = "bootstrap"
	idBytes           = 8
	secretBytes       = 32
	minExternalLength = 16
	maxCached         = 10000
)

// Errors returned by Authenticate and the token operations.
var (
	ErrInvalid  = errors.New("auth: invalid token")
	ErrRevoked  = errors.New("auth: token revoked")
	ErrExpired  = errors.New("auth: token expired")
	ErrNotFound = errors.New("auth: no such token")
	ErrBadRole  = errors.New("auth: unknown role")
)

// Token is a stored token. The secret is never kept; Hash is the hex
// SHA-256 of it and is not serialised to JSON.
type Token struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	Hash       string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	Revoked    bool      `json:"revoked,omitempty"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	CreatedBy  string    `json:"created_by,omitempty"`
}

// record is the stored form of a Token (it keeps the hash).
type record struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	Hash       string    `json:"hash"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	Revoked    bool      `json:"revoked,omitempty"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	CreatedBy  string    `json:"created_by,omitempty"`
}

func (r record) token() Token { return Token(r) }

func fromToken(t Token) record { return record(t) }

// Options configure a Service.
type Options struct {
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// CacheTTL is how long a verified token is served from memory before the
	// store is read again; default 10s. Revocations through this Service or
	// any committed write to the token key space invalidate it at once.
	CacheTTL time.Duration
	// LastUsedEvery throttles LastUsedAt writes per token; default 1m.
	LastUsedEvery time.Duration
	// KeepRevoked is how long ExpireOld keeps revoked and expired tokens
	// (so List still shows them); default 24h.
	KeepRevoked time.Duration
}

// Service manages tokens in the store.
type Service struct {
	st   *store.Store
	opts Options

	mu    sync.Mutex // serialises read-modify-write of token records
	cmu   sync.RWMutex
	cache map[string]cached
	gen   uint64 // bumped by every invalidation, under cmu
}

type cached struct {
	rec    record
	loaded time.Time
}

// New returns a Service over st. It registers a commit hook that drops cached
// tokens whenever their record changes.
func New(st *store.Store, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 10 * time.Second
	}
	if opts.LastUsedEvery <= 0 {
		opts.LastUsedEvery = time.Minute
	}
	if opts.KeepRevoked <= 0 {
		opts.KeepRevoked = 24 * time.Hour
	}
	s := &Service{st: st, opts: opts, cache: map[string]cached{}}
	st.OnCommit(func(ops []store.Op) {
		for _, op := range ops {
			if k := string(op.Key); strings.HasPrefix(k, store.SpaceToken) {
				s.invalidate(strings.TrimPrefix(k, store.SpaceToken))
			}
		}
	})
	return s
}

// ValidRole reports whether role is one of the three roles.
func ValidRole(role string) bool { return rank(role) > 0 }

func rank(role string) int {
	switch role {
	case RoleReader:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allowed reports whether a token with tokenRole may do what needs required.
// Unknown roles are never allowed.
func Allowed(tokenRole, required string) bool {
	r := rank(required)
	return r > 0 && rank(tokenRole) >= r
}

// ParseBearer extracts the token from an Authorization header value
// ("Bearer TOKEN", scheme case-insensitive).
func ParseBearer(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// split parses a presented token into the id it is stored under and the
// secret whose hash is stored. Tokens in hdy_ form carry their id; any other
// string (an operator-chosen bootstrap token) is keyed by an id derived from
// it and hashed whole.
func split(plain string) (id, secret string, ok bool) {
	if rest, found := strings.CutPrefix(plain, Prefix); found {
		id, secret, ok = strings.Cut(rest, "_")
		if ok && len(id) == 2*idBytes && isHex(id) && len(secret) == 2*secretBytes && isHex(secret) {
			return id, secret, true
		}
		return "", "", false
	}
	if len(plain) < minExternalLength {
		return "", "", false
	}
	sum := sha256.Sum256([]byte("heady token id\x00" + plain))
	return "x" + hex.EncodeToString(sum[:idBytes]), plain, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

func key(id string) string { return store.SpaceToken + id }

// Create makes a token and returns its plain form, which is shown to the
// caller once and never stored. ttl 0 means it never expires.
func (s *Service) Create(ctx context.Context, name, role string, ttl time.Duration, createdBy string) (string, Token, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "" || len(name) > 64:
		return "", Token{}, fmt.Errorf("auth: create: name must be 1 to 64 characters")
	case !ValidRole(role):
		return "", Token{}, fmt.Errorf("auth: create %s: %w %q (want reader, operator or admin)", name, ErrBadRole, role)
	case ttl < 0:
		return "", Token{}, fmt.Errorf("auth: create %s: negative ttl", name)
	}
	id, secret := randomHex(idBytes), randomHex(secretBytes)
	rec := s.newRecord(id, name, role, hashSecret(secret), ttl, createdBy)
	if err := s.put(ctx, rec); err != nil {
		return "", Token{}, fmt.Errorf("auth: create %s: %w", name, err)
	}
	return Prefix + id + "_" + secret, rec.token(), nil
}

func (s *Service) newRecord(id, name, role, hash string, ttl time.Duration, createdBy string) record {
	now := s.opts.Now().UTC()
	rec := record{ID: id, Name: name, Role: role, Hash: hash, CreatedAt: now, CreatedBy: createdBy}
	if ttl > 0 {
		rec.ExpiresAt = now.Add(ttl)
	}
	return rec
}

func (s *Service) put(ctx context.Context, rec record) error {
	b, err := store.Encode(rec)
	if err != nil {
		return err
	}
	return s.st.Apply(ctx, store.Put(key(rec.ID), b))
}

func (s *Service) load(id string) (record, error) {
	var rec record
	err := s.st.GetRecord(key(id), &rec)
	if errors.Is(err, store.ErrNotFound) {
		return rec, ErrNotFound
	}
	return rec, err
}

// List returns every stored token (revoked ones included), oldest first.
func (s *Service) List(ctx context.Context) ([]Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Token
	err := s.st.Scan(store.ScanOptions{Prefix: store.SpaceToken}, func(_ string, v []byte) (bool, error) {
		var rec record
		if err := store.Decode(v, &rec); err != nil {
			return false, err
		}
		out = append(out, rec.token())
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("auth: list: %w", err)
	}
	slices.SortStableFunc(out, func(a, b Token) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Get returns one token by id.
func (s *Service) Get(ctx context.Context, id string) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	rec, err := s.load(id)
	if err != nil {
		return Token{}, fmt.Errorf("auth: get %s: %w", id, err)
	}
	return rec.token(), nil
}

// Revoke marks a token revoked; it stops authenticating immediately.
// Revoking a revoked token is not an error.
func (s *Service) Revoke(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.load(id)
	if err != nil {
		return fmt.Errorf("auth: revoke %s: %w", id, err)
	}
	if rec.Revoked {
		return nil
	}
	rec.Revoked, rec.RevokedAt = true, s.opts.Now().UTC()
	s.invalidate(id)
	if err := s.put(ctx, rec); err != nil {
		return fmt.Errorf("auth: revoke %s: %w", id, err)
	}
	s.invalidate(id)
	return nil
}

// Authenticate checks a presented token and returns it. Errors are
// ErrInvalid (malformed, unknown or wrong secret), ErrRevoked or ErrExpired;
// a store failure is returned wrapped.
func (s *Service) Authenticate(ctx context.Context, plain string) (Token, error) {
	id, secret, ok := split(plain)
	if !ok {
		return Token{}, ErrInvalid
	}
	now := s.opts.Now()
	rec, err := s.lookup(id, now)
	if errors.Is(err, ErrNotFound) {
		return Token{}, ErrInvalid
	}
	if err != nil {
		return Token{}, fmt.Errorf("auth: authenticate: %w", err)
	}
	got := hashSecret(secret)
	if subtle.ConstantTimeCompare([]byte(got), []byte(rec.Hash)) != 1 {
		return Token{}, ErrInvalid
	}
	switch {
	case rec.Revoked:
		return Token{}, ErrRevoked
	case !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt):
		return Token{}, ErrExpired
	}
	if now.Sub(rec.LastUsedAt) >= s.opts.LastUsedEvery {
		if t, err := s.touch(ctx, id, now); err == nil {
			return t, nil
		}
		// Recording last use is best effort; authentication stands.
	}
	return rec.token(), nil
}

func (s *Service) lookup(id string, now time.Time) (record, error) {
	s.cmu.RLock()
	c, ok := s.cache[id]
	gen := s.gen
	s.cmu.RUnlock()
	if ok && now.Sub(c.loaded) < s.opts.CacheTTL && now.Sub(c.loaded) >= 0 {
		return c.rec, nil
	}
	rec, err := s.load(id)
	if err != nil {
		return rec, err
	}
	s.cmu.Lock()
	// A token write committed while we read must not leave a stale copy.
	if s.gen == gen {
		if len(s.cache) >= maxCached {
			clear(s.cache)
		}
		s.cache[id] = cached{rec: rec, loaded: now}
	}
	s.cmu.Unlock()
	return rec, nil
}

// touch records the last use of a token (at most once per LastUsedEvery).
func (s *Service) touch(ctx context.Context, id string, now time.Time) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.load(id)
	if err != nil {
		return Token{}, err
	}
	if rec.Revoked || now.Sub(rec.LastUsedAt) < s.opts.LastUsedEvery {
		return rec.token(), nil
	}
	rec.LastUsedAt = now.UTC()
	if err := s.put(ctx, rec); err != nil {
		return Token{}, err
	}
	return rec.token(), nil
}

func (s *Service) invalidate(id string) {
	s.cmu.Lock()
	delete(s.cache, id)
	s.gen++
	s.cmu.Unlock()
}

// ExpireOld deletes tokens that expired or were revoked more than
// KeepRevoked ago and returns how many it deleted.
func (s *Service) ExpireOld(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cutoff := s.opts.Now().Add(-s.opts.KeepRevoked)
	var ops []store.Op
	err := s.st.Scan(store.ScanOptions{Prefix: store.SpaceToken}, func(k string, v []byte) (bool, error) {
		var rec record
		if err := store.Decode(v, &rec); err != nil {
			return false, err
		}
		if (rec.Revoked && rec.RevokedAt.Before(cutoff)) || (!rec.ExpiresAt.IsZero() && rec.ExpiresAt.Before(cutoff)) {
			ops = append(ops, store.Delete(k))
		}
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("auth: expire: %w", err)
	}
	if err := s.st.Apply(ctx, ops...); err != nil {
		return 0, fmt.Errorf("auth: expire: %w", err)
	}
	return len(ops), nil
}

// Bootstrap makes sure an admin can log in on a fresh data directory. When no
// token exists it creates an admin token named "bootstrap":
//
//   - from envToken when it is set (HEADY_BOOTSTRAP_TOKEN): either a token in
//     hdy_ form, or any string of at least 16 characters. Only its hash is
//     stored; nothing is written to the data directory in plain.
//   - otherwise a generated token, written to DATA/bootstrap-token with mode
//     0600 before it is stored, so it cannot be lost. That file is the
//     documented one-time handover: the operator reads and deletes it.
//
// plain is the generated token (print it once), or "" when the token came
// from envToken or tokens already existed. created reports whether a token
// was created.
func (s *Service) Bootstrap(ctx context.Context, dataDir, envToken string) (plain string, created bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exists := false
	if err := s.st.Scan(store.ScanOptions{Prefix: store.SpaceToken, KeysOnly: true, Limit: 1}, func(string, []byte) (bool, error) {
		exists = true
		return false, nil
	}); err != nil {
		return "", false, fmt.Errorf("auth: bootstrap: %w", err)
	}
	if exists {
		return "", false, nil
	}
	if envToken != "" {
		id, secret, ok := split(envToken)
		if !ok {
			return "", false, fmt.Errorf("auth: bootstrap: HEADY_BOOTSTRAP_TOKEN must be an hdy_ token or at least %d characters", minExternalLength)
		}
		rec := s.newRecord(id, BootstrapName, RoleAdmin, hashSecret(secret), 0, "bootstrap")
		if err := s.put(ctx, rec); err != nil {
			return "", false, fmt.Errorf("auth: bootstrap: %w", err)
		}
		return "", true, nil
	}
	id, secret := randomHex(idBytes), randomHex(secretBytes)
	plain = Prefix + id + "_" + secret
	path := filepath.Join(dataDir, BootstrapFile)
	if err := writeSecretFile(path, plain+"\n"); err != nil {
		return "", false, fmt.Errorf("auth: bootstrap: %w", err)
	}
	rec := s.newRecord(id, BootstrapName, RoleAdmin, hashSecret(secret), 0, "bootstrap")
	if err := s.put(ctx, rec); err != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("auth: bootstrap: %w", err)
	}
	return plain, true, nil
}

// writeSecretFile writes content to path with mode 0600 atomically.
func writeSecretFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bootstrap-token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
