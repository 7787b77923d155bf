package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config configures an App.
type Config struct {
	// HeadyURL is Heady's base URL; empty disables event emission.
	HeadyURL   string
	HeadyToken string
	// WebhookSecret verifies X-Heady-Signature-256 on /hooks/content.
	WebhookSecret string
	// DataDir, when set, keeps the state in DataDir/state.json.
	DataDir string
	Logger  *slog.Logger
	// Client calls Heady (default: a client with a 5 s timeout).
	Client *http.Client
}

// User is a registered user.
type User struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Workspace belongs to one user.
type Workspace struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Permission grants a role on a workspace.
type Permission struct {
	UserID      string `json:"user_id"`
	WorkspaceID string `json:"workspace_id"`
	Role        string `json:"role"`
}

// Content is a published piece of content.
type Content struct {
	ContentID string `json:"content_id"`
	Title     string `json:"title"`
	Body      string `json:"body,omitempty"`
}

// Preview is a generated preview of content.
type Preview struct {
	ID        string `json:"id"`
	ContentID string `json:"content_id"`
	Preview   string `json:"preview"`
}

// SearchEntry is an indexed document.
type SearchEntry struct {
	ID  string `json:"id"`
	Doc any    `json:"doc"`
}

// Webhook is a received webhook delivery.
type Webhook struct {
	DeliveryID     string    `json:"delivery_id"`
	Event          string    `json:"event"`
	SignatureValid bool      `json:"signature_valid"`
	Payload        any       `json:"payload"`
	ReceivedAt     time.Time `json:"received_at"`
}

// State is everything the app holds; GET /api/state returns it.
type State struct {
	Users            []User        `json:"users"`
	Contents         []Content     `json:"contents"`
	Workspaces       []Workspace   `json:"workspaces"`
	Permissions      []Permission  `json:"permissions"`
	Previews         []Preview     `json:"previews"`
	SearchEntries    []SearchEntry `json:"search_entries"`
	WebhooksReceived []Webhook     `json:"webhooks_received"`
	// IdempotencyKeys maps an Idempotency-Key header to the workspace it
	// created.
	IdempotencyKeys map[string]string `json:"idempotency_keys"`
}

// App is the demo application.
type App struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	state State

	failStatus int
	failCount  int

	metrics struct {
		sync.Mutex
		requests      map[string]int64 // by route
		eventsSent    int64
		eventsFailed  int64
		webhooksValid int64
		webhooksBad   int64
	}
}

// New returns an App, loading DataDir/state.json when it exists.
func New(cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	cfg.HeadyURL = strings.TrimRight(cfg.HeadyURL, "/")
	a := &App{cfg: cfg, log: cfg.Logger}
	a.metrics.requests = map[string]int64{}
	a.state.IdempotencyKeys = map[string]string{}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("demoapp: data dir: %w", err)
		}
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "state.json"))
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &a.state); err != nil {
				return nil, fmt.Errorf("demoapp: load state: %w", err)
			}
			if a.state.IdempotencyKeys == nil {
				a.state.IdempotencyKeys = map[string]string{}
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("demoapp: load state: %w", err)
		}
	}
	return a, nil
}

// Handler returns the app's routes.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			a.metrics.Lock()
			a.metrics.requests[pattern]++
			a.metrics.Unlock()
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			h(w, r)
		})
	}
	route("POST /api/users", a.registerUser)
	route("POST /api/content", a.publishContent)
	route("POST /api/workspaces", a.createWorkspace)
	route("POST /api/permissions", a.assignPermission)
	route("POST /api/previews", a.createPreview)
	route("PUT /api/search/{id}", a.indexSearch)
	route("GET /api/search", a.search)
	route("POST /hooks/content", a.receiveWebhook)
	route("GET /api/state", a.getState)
	route("GET /healthz", a.healthz)
	route("POST /admin/fail", a.setFail)
	route("GET /metrics", a.serveMetrics)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// save writes the state to disk; the caller holds a.mu.
func (a *App) save() {
	if a.cfg.DataDir == "" {
		return
	}
	b, err := json.MarshalIndent(a.state, "", "  ")
	if err != nil {
		a.log.Error("encode state", "error", err)
		return
	}
	tmp := filepath.Join(a.cfg.DataDir, ".state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		a.log.Error("save state", "error", err)
		return
	}
	if err := os.Rename(tmp, filepath.Join(a.cfg.DataDir, "state.json")); err != nil {
		a.log.Error("save state", "error", err)
	}
}

// emit sends an event to Heady.
func (a *App) emit(ctx context.Context, typ string, data map[string]any) error {
	if a.cfg.HeadyURL == "" {
		return errors.New("no Heady URL configured")
	}
	body, _ := json.Marshal(map[string]any{"type": typ, "data": data})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.HeadyURL+"/api/v1/automation/events", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.cfg.HeadyToken != "" {
		req.Header.Set("Authorization", "Bearer "+a.cfg.HeadyToken)
	}
	resp, err := a.cfg.Client.Do(req)
	if err == nil {
		defer resp.Body.Close()
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			err = fmt.Errorf("heady answered %d: %s", resp.StatusCode, strings.TrimSpace(string(rb)))
		}
	}
	a.metrics.Lock()
	if err != nil {
		a.metrics.eventsFailed++
	} else {
		a.metrics.eventsSent++
	}
	a.metrics.Unlock()
	if err != nil {
		a.log.Warn("emit event failed", "type", typ, "error", err)
	}
	return err
}

func eventResult(err error) map[string]any {
	if err != nil {
		return map[string]any{"event_emitted": false, "event_error": err.Error()}
	}
	return map[string]any{"event_emitted": true}
}

func (a *App) registerUser(w http.ResponseWriter, r *http.Request) {
	var u User
	if !decode(w, r, &u) {
		return
	}
	if u.UserID == "" || !strings.Contains(u.Email, "@") {
		writeError(w, http.StatusBadRequest, "user_id and a valid email are required")
		return
	}
	a.mu.Lock()
	for _, x := range a.state.Users {
		if x.UserID == u.UserID {
			a.mu.Unlock()
			writeError(w, http.StatusConflict, "user "+u.UserID+" exists")
			return
		}
	}
	u.CreatedAt = time.Now().UTC()
	a.state.Users = append(a.state.Users, u)
	a.save()
	a.mu.Unlock()
	data := map[string]any{"user_id": u.UserID, "email": u.Email}
	if u.Name != "" {
		data["name"] = u.Name
	}
	res := eventResult(a.emit(r.Context(), "user.registered", data))
	res["user"] = u
	writeJSON(w, http.StatusCreated, res)
}

func (a *App) publishContent(w http.ResponseWriter, r *http.Request) {
	var c Content
	if !decode(w, r, &c) {
		return
	}
	if c.ContentID == "" || c.Title == "" {
		writeError(w, http.StatusBadRequest, "content_id and title are required")
		return
	}
	a.mu.Lock()
	replaced := false
	for i, x := range a.state.Contents {
		if x.ContentID == c.ContentID {
			a.state.Contents[i] = c
			replaced = true
		}
	}
	if !replaced {
		a.state.Contents = append(a.state.Contents, c)
	}
	a.save()
	a.mu.Unlock()
	res := eventResult(a.emit(r.Context(), "content.published", map[string]any{"content_id": c.ContentID, "title": c.Title, "body": c.Body}))
	res["content"] = c
	writeJSON(w, http.StatusCreated, res)
}

func (a *App) createWorkspace(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID string `json:"user_id"`
		Name   string `json:"name"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.UserID == "" {
		writeError(w, http.StatusBadRequest, "user_id is required")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	a.mu.Lock()
	defer a.mu.Unlock()
	find := func(match func(Workspace) bool) (Workspace, bool) {
		for _, ws := range a.state.Workspaces {
			if match(ws) {
				return ws, true
			}
		}
		return Workspace{}, false
	}
	if key != "" {
		if id, ok := a.state.IdempotencyKeys[key]; ok {
			if ws, ok := find(func(ws Workspace) bool { return ws.ID == id }); ok {
				writeJSON(w, http.StatusOK, ws)
				return
			}
		}
	}
	if ws, ok := find(func(ws Workspace) bool { return ws.UserID == in.UserID }); ok {
		if key != "" {
			a.state.IdempotencyKeys[key] = ws.ID
			a.save()
		}
		writeJSON(w, http.StatusOK, ws)
		return
	}
	if in.Name == "" {
		in.Name = in.UserID + "'s workspace"
	}
	ws := Workspace{ID: newID("ws"), UserID: in.UserID, Name: in.Name, CreatedAt: time.Now().UTC()}
	a.state.Workspaces = append(a.state.Workspaces, ws)
	if key != "" {
		a.state.IdempotencyKeys[key] = ws.ID
	}
	a.save()
	writeJSON(w, http.StatusCreated, ws)
}

func (a *App) assignPermission(w http.ResponseWriter, r *http.Request) {
	var p Permission
	if !decode(w, r, &p) {
		return
	}
	if p.UserID == "" || p.WorkspaceID == "" || p.Role == "" {
		writeError(w, http.StatusBadRequest, "user_id, workspace_id and role are required")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	found := false
	for _, ws := range a.state.Workspaces {
		if ws.ID == p.WorkspaceID {
			found = true
		}
	}
	if !found {
		writeError(w, http.StatusNotFound, "workspace "+p.WorkspaceID+" not found")
		return
	}
	for _, x := range a.state.Permissions {
		if x == p {
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	a.state.Permissions = append(a.state.Permissions, p)
	a.save()
	writeJSON(w, http.StatusCreated, p)
}

func (a *App) createPreview(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ContentID string `json:"content_id"`
		Title     string `json:"title"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.ContentID == "" {
		writeError(w, http.StatusBadRequest, "content_id is required")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range a.state.Previews {
		if p.ContentID == in.ContentID {
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	text := in.Title
	for _, c := range a.state.Contents {
		if c.ContentID == in.ContentID && c.Body != "" {
			body := c.Body
			if len(body) > 120 {
				body = body[:120] + "…"
			}
			text += " — " + body
		}
	}
	p := Preview{ID: newID("pv"), ContentID: in.ContentID, Preview: text}
	a.state.Previews = append(a.state.Previews, p)
	a.save()
	writeJSON(w, http.StatusCreated, p)
}

func (a *App) indexSearch(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var doc any
	if !decode(w, r, &doc) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	replaced := false
	for i, e := range a.state.SearchEntries {
		if e.ID == id {
			a.state.SearchEntries[i].Doc = doc
			replaced = true
		}
	}
	if !replaced {
		a.state.SearchEntries = append(a.state.SearchEntries, SearchEntry{ID: id, Doc: doc})
	}
	a.save()
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "indexed": true})
}

// matches reports whether any string inside v contains q.
func matches(v any, q string) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(strings.ToLower(t), q)
	case map[string]any:
		for _, e := range t {
			if matches(e, q) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if matches(e, q) {
				return true
			}
		}
	}
	return false
}

func (a *App) search(w http.ResponseWriter, r *http.Request) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	a.mu.Lock()
	results := []SearchEntry{}
	for _, e := range a.state.SearchEntries {
		if q == "" || matches(e.Doc, q) {
			results = append(results, e)
		}
	}
	a.mu.Unlock()
	sort.Slice(results, func(i, j int) bool { return results[i].ID < results[j].ID })
	writeJSON(w, http.StatusOK, map[string]any{"query": q, "results": results})
}

// Sign returns the X-Heady-Signature-256 value of body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (a *App) receiveWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	valid := a.cfg.WebhookSecret != "" && hmac.Equal([]byte(Sign(a.cfg.WebhookSecret, body)), []byte(r.Header.Get("X-Heady-Signature-256")))
	var payload any
	if err := json.Unmarshal(body, &payload); err != nil {
		payload = string(body)
	}
	wh := Webhook{
		DeliveryID: r.Header.Get("X-Heady-Delivery"), Event: r.Header.Get("X-Heady-Event"),
		SignatureValid: valid, Payload: payload, ReceivedAt: time.Now().UTC(),
	}
	a.mu.Lock()
	a.state.WebhooksReceived = append(a.state.WebhooksReceived, wh)
	a.save()
	a.mu.Unlock()
	a.metrics.Lock()
	if valid {
		a.metrics.webhooksValid++
	} else {
		a.metrics.webhooksBad++
	}
	a.metrics.Unlock()
	if !valid && a.cfg.WebhookSecret != "" {
		writeError(w, http.StatusUnauthorized, "bad signature")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"received": true, "signature_valid": valid})
}

func (a *App) getState(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	b, err := json.Marshal(a.state)
	a.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k, v := range m {
		if v == nil {
			m[k] = []any{}
		}
	}
	writeJSON(w, http.StatusOK, m)
}

func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	status := 0
	if a.failCount > 0 {
		a.failCount--
		status = a.failStatus
	}
	a.mu.Unlock()
	if status != 0 {
		writeJSON(w, status, map[string]any{"status": "failing"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

func (a *App) setFail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Status int `json:"status"`
		Count  int `json:"count"`
	}
	if !decode(w, r, &in) {
		return
	}
	if in.Status == 0 {
		in.Status = http.StatusInternalServerError
	}
	if in.Status < 100 || in.Status > 599 || in.Count < 0 {
		writeError(w, http.StatusBadRequest, "status must be an HTTP status and count not negative")
		return
	}
	a.mu.Lock()
	a.failStatus, a.failCount = in.Status, in.Count
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"status": in.Status, "count": in.Count})
}

func (a *App) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	users, workspaces, webhooks := len(a.state.Users), len(a.state.Workspaces), len(a.state.WebhooksReceived)
	a.mu.Unlock()
	a.metrics.Lock()
	defer a.metrics.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	b.WriteString("# HELP demoapp_requests_total HTTP requests by route.\n# TYPE demoapp_requests_total counter\n")
	routes := make([]string, 0, len(a.metrics.requests))
	for r := range a.metrics.requests {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		fmt.Fprintf(&b, "demoapp_requests_total{route=%q} %d\n", r, a.metrics.requests[r])
	}
	b.WriteString("# HELP demoapp_events_emitted_total Events sent to Heady, by result.\n# TYPE demoapp_events_emitted_total counter\n")
	fmt.Fprintf(&b, "demoapp_events_emitted_total{result=\"ok\"} %d\n", a.metrics.eventsSent)
	fmt.Fprintf(&b, "demoapp_events_emitted_total{result=\"error\"} %d\n", a.metrics.eventsFailed)
	b.WriteString("# HELP demoapp_webhooks_received_total Webhooks received, by signature validity.\n# TYPE demoapp_webhooks_received_total counter\n")
	fmt.Fprintf(&b, "demoapp_webhooks_received_total{signature=\"valid\"} %d\n", a.metrics.webhooksValid)
	fmt.Fprintf(&b, "demoapp_webhooks_received_total{signature=\"invalid\"} %d\n", a.metrics.webhooksBad)
	b.WriteString("# HELP demoapp_users Registered users.\n# TYPE demoapp_users gauge\n")
	fmt.Fprintf(&b, "demoapp_users %d\n", users)
	b.WriteString("# HELP demoapp_workspaces Workspaces.\n# TYPE demoapp_workspaces gauge\n")
	fmt.Fprintf(&b, "demoapp_workspaces %d\n", workspaces)
	b.WriteString("# HELP demoapp_webhooks Webhooks recorded.\n# TYPE demoapp_webhooks gauge\n")
	fmt.Fprintf(&b, "demoapp_webhooks %d\n", webhooks)
	_, _ = io.WriteString(w, b.String())
}
