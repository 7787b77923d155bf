package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/heady-dev/heady/plugins/internal/mailer"
	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
)

// Version is the plugin's version.
const Version = "1.0.0"

const prefix = "plugin notify: send"

// Channels.
const (
	ChannelLog     = "log"
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// dedupePrefix is where the last send time of each alert is remembered in
// the plugin's key space.
const dedupePrefix = "dedupe/"

// ConfigSchema is the configuration of notify.send.
var ConfigSchema = sdk.Schema{Attributes: append([]sdk.Attribute{
	{Name: "channel", Type: sdk.TypeString, Default: ChannelLog, Description: "Default channel: log, webhook or email.", Example: `"email"`},
	{Name: "dedupe_window", Type: sdk.TypeDuration, Default: "10m", Description: "An alert with the same title and message is not sent again within this window (\"0s\" disables).", Example: `"1h"`},
	{Name: "timeout", Type: sdk.TypeDuration, Default: "15s", Description: "Deadline of one webhook or e-mail delivery.", Example: `"5s"`},
	{Name: "webhook_url", Type: sdk.TypeString, Description: "Default webhook receiver for the webhook channel.", Example: `"https://hooks.example.com/alerts"`},
	{Name: "webhook_secret", Type: sdk.TypeString, Description: "Default HMAC secret for the webhook channel.", Example: `env("ALERT_SECRET")`},
	{Name: "email_to", Type: sdk.TypeStringList, Description: "Default recipients for the email channel.", Example: `["ops@example.com"]`},
}, mailer.ConfigAttributes()...)}

// InputSchema is the inputs of notify.send.
var InputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "severity", Type: sdk.TypeString, Default: "info", Description: "info, warning, error or critical.", Example: `"warning"`},
	{Name: "title", Type: sdk.TypeString, Required: true, Description: "Short summary.", Example: `"Heady: unhealthy components"`},
	{Name: "message", Type: sdk.TypeString, Default: "", Description: "Details.", Example: `"Unhealthy: db"`},
	{Name: "channel", Type: sdk.TypeString, Description: "log, webhook or email; defaults to the configured channel.", Example: `"webhook"`},
	{Name: "url", Type: sdk.TypeString, Description: "Webhook receiver (webhook channel).", Example: `"https://hooks.example.com/alerts"`},
	{Name: "secret", Type: sdk.TypeString, Description: "Webhook HMAC secret (webhook channel).", Example: `var.webhook_secret`},
	{Name: "to", Type: sdk.TypeAny, Description: "Recipient or list of recipients (email channel).", Example: `"ops@example.com"`},
}}

// OutputSchema documents the outputs of notify.send.
var OutputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "delivered", Type: sdk.TypeBool, Description: "Whether the alert was sent by this call."},
	{Name: "channel", Type: sdk.TypeString, Description: "The channel used."},
	{Name: "deduplicated", Type: sdk.TypeBool, Description: "Whether it was suppressed as a repeat within dedupe_window."},
}}

// Options are the sdk.Serve options of heady-plugin-notify.
func Options() []sdk.Option {
	return []sdk.Option{
		sdk.WithName("notify"),
		sdk.WithVersion(Version),
		sdk.WithDescription("Raises alerts through the log, webhooks or e-mail, without repeats."),
		sdk.WithAction(sdk.Spec{
			Name:        "send",
			Description: "Sends an alert to the log, a signed webhook or e-mail; repeats within dedupe_window are suppressed.",
			Config:      ConfigSchema,
			Inputs:      InputSchema,
			Outputs:     OutputSchema,
		}, func() sdk.Action { return &Send{} }),
	}
}

// Send is the notify.send action.
type Send struct {
	host    sdk.Host
	channel string
	window  time.Duration
	timeout time.Duration
	hookURL string
	secret  string
	emailTo []string
	mail    mailer.Config
	client  *http.Client
	now     func() time.Time
	// mu serialises check-and-record of the dedupe state in this process.
	mu sync.Mutex
}

// Init receives the host.
func (s *Send) Init(h sdk.Host) { s.host = h }

// Configure reads the configuration.
func (s *Send) Configure(_ context.Context, config map[string]any) error {
	c := sdk.Config(config)
	s.channel = c.String("channel")
	s.window = c.Duration("dedupe_window")
	s.timeout = c.Duration("timeout")
	s.hookURL = c.String("webhook_url")
	s.secret = c.String("webhook_secret")
	s.emailTo = c.Strings("email_to")
	if s.now == nil {
		s.now = time.Now
	}
	if err := checkChannel(s.channel); err != nil {
		return fmt.Errorf("plugin notify: configure: %w", err)
	}
	if s.window < 0 || s.timeout <= 0 {
		return errors.New("plugin notify: configure: dedupe_window must not be negative and timeout must be positive")
	}
	if s.hookURL != "" {
		if _, err := pluginutil.ParseURL(s.hookURL); err != nil {
			return fmt.Errorf("plugin notify: configure: webhook_url: %w", err)
		}
	}
	mc, err := mailer.FromConfig(c)
	if err != nil {
		return fmt.Errorf("plugin notify: configure: %w", err)
	}
	s.mail = mc
	s.client = pluginutil.NewHTTPClient(nil)
	return nil
}

func checkChannel(ch string) error {
	switch ch {
	case ChannelLog, ChannelWebhook, ChannelEmail:
		return nil
	}
	return fmt.Errorf("channel %q: want log, webhook or email", ch)
}

func level(sev string) (slog.Level, error) {
	switch strings.ToLower(sev) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return slog.LevelWarn, nil
	case "error", "critical":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("severity %q: want info, warning, error or critical", sev)
}

// DedupeKey is the key under which an alert's last send time is kept.
func DedupeKey(title, message string) string {
	sum := sha256.Sum256([]byte(title + "\x00" + message))
	return dedupePrefix + hex.EncodeToString(sum[:16])
}

// Run sends the alert unless it is a repeat.
func (s *Send) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	in, err := pluginutil.Inputs(prefix, InputSchema, req.Inputs)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	sev := strings.ToLower(in.String("severity"))
	lvl, err := level(sev)
	if err != nil {
		return sdk.ActionResponse{}, pluginutil.Invalid("%s: %v", prefix, err)
	}
	ch := s.channel
	if in.Has("channel") {
		ch = in.String("channel")
	}
	if err := checkChannel(ch); err != nil {
		return sdk.ActionResponse{}, pluginutil.Invalid("%s: %v", prefix, err)
	}
	if s.host == nil {
		return sdk.ActionResponse{}, &sdk.Error{Code: sdk.CodeUnavailable, Message: prefix + ": no host connection", Retryable: true}
	}
	title, msg := in.String("title"), in.String("message")
	out := map[string]any{"delivered": false, "channel": ch, "deduplicated": false}
	resp := sdk.ActionResponse{Outputs: out}

	s.mu.Lock()
	defer s.mu.Unlock()
	key := DedupeKey(title, msg)
	now := s.now()
	if s.window > 0 {
		last, err := s.host.KVGet(ctx, key)
		switch {
		case err == nil:
			if ns, perr := strconv.ParseInt(string(last), 10, 64); perr == nil && now.Sub(time.Unix(0, ns)) < s.window {
				out["deduplicated"] = true
				resp.Log(slog.LevelInfo, fmt.Sprintf("suppressed repeat of %q (last sent %s)", title, time.Unix(0, ns).UTC().Format(time.RFC3339)))
				return resp, nil
			}
		case !errors.Is(err, sdk.ErrNotFound):
			return resp, sdk.Retryable(fmt.Errorf("%s: read dedupe state: %w", prefix, err))
		}
	}
	if err := s.deliver(ctx, req, ch, sev, lvl, title, msg, in); err != nil {
		return resp, err
	}
	out["delivered"] = true
	if s.window > 0 {
		if err := s.host.KVPut(ctx, key, []byte(strconv.FormatInt(now.UnixNano(), 10))); err != nil {
			resp.Log(slog.LevelWarn, "could not record the alert for deduplication: "+err.Error())
		}
	}
	resp.Log(slog.LevelInfo, fmt.Sprintf("sent %s alert %q via %s", sev, title, ch))
	return resp, nil
}

func (s *Send) deliver(ctx context.Context, req sdk.ActionRequest, ch, sev string, lvl slog.Level, title, msg string, in sdk.Config) error {
	switch ch {
	case ChannelLog:
		fields := map[string]any{"severity": sev, "title": title, "message": msg}
		if req.Workflow != "" {
			fields["workflow"] = req.Workflow
			fields["execution_id"] = req.ExecutionID
		}
		if err := s.host.Log(ctx, lvl, title+": "+msg, fields); err != nil {
			return sdk.Retryable(fmt.Errorf("%s: log: %w", prefix, err))
		}
		return nil
	case ChannelWebhook:
		u := s.hookURL
		if in.Has("url") {
			u = in.String("url")
		}
		if u == "" {
			return pluginutil.Invalid("%s: webhook channel needs url (input) or webhook_url (config)", prefix)
		}
		secret := s.secret
		if in.Has("secret") {
			secret = in.String("secret")
		}
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		_, err := pluginutil.Deliver(ctx, s.client, prefix+": webhook", pluginutil.Webhook{
			URL: u, Event: "notification", Secret: secret, DeliveryID: req.IdempotencyKey,
			UserAgent: "heady-notify/" + Version,
			Payload: map[string]any{
				"severity": sev, "title": title, "message": msg, "time": s.now().UTC().Format(time.RFC3339),
				"workflow": req.Workflow, "execution_id": req.ExecutionID,
			},
		})
		return err
	case ChannelEmail:
		to := s.emailTo
		if in.Has("to") {
			list, err := mailer.AddressList(in["to"])
			if err != nil {
				return pluginutil.Invalid("%s: to: %v", prefix, err)
			}
			to = list
		}
		if len(to) == 0 {
			return pluginutil.Invalid("%s: email channel needs to (input) or email_to (config)", prefix)
		}
		cfg := s.mail
		cfg.Timeout = s.timeout
		_, err := mailer.Send(ctx, cfg, mailer.Message{
			To: to, Subject: "[" + strings.ToUpper(sev) + "] " + title, Text: msg, IdempotencyKey: req.IdempotencyKey,
		})
		if err != nil {
			e := sdk.AsError(err)
			return &sdk.Error{Code: e.Code, Message: prefix + ": email: " + e.Message, Retryable: e.Retryable, Err: err}
		}
		return nil
	}
	return pluginutil.Invalid("%s: unknown channel %q", prefix, ch)
}

// Close releases pooled connections.
func (s *Send) Close(context.Context) error {
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	return nil
}

var (
	_ sdk.Action      = (*Send)(nil)
	_ sdk.Initializer = (*Send)(nil)
)
