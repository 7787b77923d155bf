package healing

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/smtp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heady-dev/heady/host/config"
)

// Alert is something an operator should know about.
type Alert struct {
	// Key names the component ("check:disk", "service:api"); with State it
	// is the de-duplication key.
	Key      string         `json:"key"`
	State    string         `json:"state"`
	Severity string         `json:"severity"` // info | warning | error | critical
	Title    string         `json:"title"`
	Message  string         `json:"message"`
	Details  map[string]any `json:"details,omitempty"`
	// Kind is "alert", "reminder" or "resolved" in deliveries.
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
}

// OpenAlert is an alert not resolved yet.
type OpenAlert struct {
	Alert
	FirstSent time.Time `json:"first_sent"`
	LastSent  time.Time `json:"last_sent"`
	Sent      int       `json:"sent"`
}

// Alerter delivers alerts to the policy's `alert` notifiers (the log when
// there are none), once per (key, state): the same alert raised again is
// suppressed, and reminded after the notifier's remind interval while it
// stays unresolved.
type Alerter struct {
	log    *slog.Logger
	client *http.Client

	mu        sync.Mutex
	notifiers []*config.Notifier
	open      map[string]*OpenAlert
	delivered atomic.Int64
}

// NewAlerter returns an alerter that logs until SetNotifiers gives it
// notifiers.
func NewAlerter(log *slog.Logger) *Alerter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &Alerter{log: log, client: &http.Client{Transport: tr, Timeout: 15 * time.Second}, open: map[string]*OpenAlert{}}
}

// SetNotifiers replaces the notifiers (on every policy load).
func (a *Alerter) SetNotifiers(ns []*config.Notifier) {
	a.mu.Lock()
	a.notifiers = ns
	a.mu.Unlock()
}

// Delivered counts deliveries (per alert, not per notifier).
func (a *Alerter) Delivered() int64 { return a.delivered.Load() }

// Open lists unresolved alerts by key.
func (a *Alerter) Open() []OpenAlert {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]OpenAlert, 0, len(a.open))
	for _, o := range a.open {
		out = append(out, *o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Raise delivers al unless the same (key, state) is already open. It
// reports whether it was delivered.
func (a *Alerter) Raise(ctx context.Context, al Alert) bool {
	now := time.Now()
	a.mu.Lock()
	if o, ok := a.open[al.Key]; ok && o.State == al.State {
		a.mu.Unlock()
		a.log.Debug("alert suppressed: already raised", "key", al.Key, "state", al.State)
		return false
	}
	if al.Severity == "" {
		al.Severity = "error"
	}
	al.Kind, al.Time = "alert", now
	a.open[al.Key] = &OpenAlert{Alert: al, FirstSent: now, LastSent: now, Sent: 1}
	ns := a.notifiers
	a.mu.Unlock()
	a.deliver(ctx, ns, al)
	return true
}

// Resolve closes the open alert of key, telling the notifiers it is over.
func (a *Alerter) Resolve(ctx context.Context, key, message string) {
	a.mu.Lock()
	o, ok := a.open[key]
	delete(a.open, key)
	ns := a.notifiers
	a.mu.Unlock()
	if !ok {
		return
	}
	al := o.Alert
	al.Kind, al.Time, al.Severity = "resolved", time.Now(), "info"
	al.Title = "Resolved: " + al.Title
	al.Message = message
	a.deliver(ctx, ns, al)
}

// Remind re-delivers open alerts whose remind interval has passed; Run
// calls it periodically.
func (a *Alerter) Remind(ctx context.Context, now time.Time) int {
	a.mu.Lock()
	every := a.remindLocked()
	var due []Alert
	for _, o := range a.open {
		if now.Sub(o.LastSent) >= every {
			o.LastSent = now
			o.Sent++
			al := o.Alert
			al.Kind, al.Time = "reminder", now
			al.Title = "Reminder: " + al.Title
			due = append(due, al)
		}
	}
	ns := a.notifiers
	a.mu.Unlock()
	for _, al := range due {
		a.deliver(ctx, ns, al)
	}
	return len(due)
}

func (a *Alerter) remindLocked() time.Duration {
	every := time.Hour
	for i, n := range a.notifiers {
		if n.Remind > 0 && (i == 0 || n.Remind < every) {
			every = n.Remind
		}
	}
	return every
}

// Run sends reminders until ctx ends.
func (a *Alerter) Run(ctx context.Context) {
	a.mu.Lock()
	tick := a.remindLocked() / 4
	a.mu.Unlock()
	tick = min(max(tick, time.Second), time.Minute)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			a.Remind(ctx, now)
		}
	}
}

func (a *Alerter) closeIdle() { a.client.CloseIdleConnections() }

func (a *Alerter) deliver(ctx context.Context, ns []*config.Notifier, al Alert) {
	a.delivered.Add(1)
	if len(ns) == 0 {
		ns = []*config.Notifier{{Name: "log", Kind: "log"}}
	}
	for _, n := range ns {
		var err error
		switch n.Kind {
		case "webhook":
			err = a.webhook(ctx, n, al)
		case "email":
			err = a.email(n, al)
		default:
			lvl := slog.LevelWarn
			if al.Kind == "resolved" {
				lvl = slog.LevelInfo
			}
			a.log.Log(ctx, lvl, "ALERT "+al.Title, "kind", al.Kind, "key", al.Key, "state", al.State,
				"severity", al.Severity, "message", al.Message, "notifier", n.Name)
		}
		if err != nil {
			a.log.Error("alert not delivered", "notifier", n.Name, "kind", n.Kind, "key", al.Key, "err", err)
		}
	}
}

// webhook POSTs the alert as JSON, signed like Heady's outgoing webhooks
// (X-Heady-Signature-256: sha256=HEX of the body) when a secret is set.
func (a *Alerter) webhook(ctx context.Context, n *config.Notifier, al Alert) error {
	body, err := json.Marshal(al)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "heady-alert")
	if n.Secret != "" {
		m := hmac.New(sha256.New, []byte(n.Secret))
		m.Write(body)
		req.Header.Set("X-Heady-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("alert %s: webhook: %w", n.Name, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("alert %s: webhook: status %d", n.Name, resp.StatusCode)
	}
	return nil
}

// email sends the alert through the notifier's SMTP server: STARTTLS when
// starttls is set (required then) or when the server offers it, AUTH PLAIN
// when a username is set.
func (a *Alerter) email(n *config.Notifier, al Alert) error {
	var msg strings.Builder
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		n.From, strings.Join(n.To, ", "), strings.ReplaceAll(al.Title, "\n", " "), al.Time.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&msg, "%s\r\n\r\nseverity: %s\r\ncomponent: %s\r\nstate: %s\r\nkind: %s\r\n", al.Message, al.Severity, al.Key, al.State, al.Kind)
	fail := func(err error) error { return fmt.Errorf("alert %s: email: %w", n.Name, err) }
	conn, err := net.DialTimeout("tcp", n.SMTP, 15*time.Second)
	if err != nil {
		return fail(err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	host, _, _ := net.SplitHostPort(n.SMTP)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fail(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return fail(err)
		}
	} else if n.StartTLS {
		return fail(fmt.Errorf("%s does not offer STARTTLS", n.SMTP))
	}
	if n.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", n.Username, n.Password, host)); err != nil {
			return fail(err)
		}
	}
	if err := c.Mail(n.From); err != nil {
		return fail(err)
	}
	for _, to := range n.To {
		if err := c.Rcpt(to); err != nil {
			return fail(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail(err)
	}
	if _, err := io.WriteString(w, msg.String()); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return fail(err)
	}
	return c.Quit()
}
