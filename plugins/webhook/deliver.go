package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
)

// Version is the plugin's version.
const Version = "1.0.0"

const prefix = "plugin webhook: deliver"

// ConfigSchema is the configuration of webhook.deliver.
var ConfigSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "timeout", Type: sdk.TypeDuration, Default: "10s", Description: "Default deadline of one delivery.", Example: `"5s"`},
	{Name: "user_agent", Type: sdk.TypeString, Default: "heady-webhook/" + Version, Description: "User-Agent header.", Example: `"my-hooks/1.0"`},
	{Name: "secret", Type: sdk.TypeString, Description: "Default HMAC secret when the step gives none.", Example: `env("WEBHOOK_SECRET")`},
	{Name: "allowed_hosts", Type: sdk.TypeStringList, Description: "When set, only these hosts (\"host\", \"host:port\" or \"*.domain\") receive deliveries.", Example: `["hooks.example.com"]`},
}}

// InputSchema is the inputs of webhook.deliver.
var InputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "url", Type: sdk.TypeString, Required: true, Description: "Receiver URL (http or https).", Example: `"https://hooks.example.com/heady"`},
	{Name: "payload", Type: sdk.TypeAny, Description: "Any value, sent as the JSON body.", Example: `{ id = event.data.content_id }`},
	{Name: "event", Type: sdk.TypeString, Description: "Event name, sent as X-Heady-Event.", Example: `"content.published"`},
	{Name: "secret", Type: sdk.TypeString, Description: "HMAC-SHA256 key; the signature of the raw body goes in X-Heady-Signature-256: sha256=<hex>.", Example: `var.webhook_secret`},
	{Name: "headers", Type: sdk.TypeStringMap, Description: "Extra request headers.", Example: `{ Authorization = "Bearer x" }`},
	{Name: "timeout", Type: sdk.TypeDuration, Description: "Deadline of this delivery.", Example: `"3s"`},
}}

// OutputSchema documents the outputs of webhook.deliver.
var OutputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "status", Type: sdk.TypeNumber, Description: "Receiver's HTTP status."},
	{Name: "delivery_id", Type: sdk.TypeString, Description: "The X-Heady-Delivery header sent (the step's idempotency key)."},
	{Name: "duration_ms", Type: sdk.TypeNumber, Description: "Time the delivery took."},
}}

// Options are the sdk.Serve options of heady-plugin-webhook.
func Options() []sdk.Option {
	return []sdk.Option{
		sdk.WithName("webhook"),
		sdk.WithVersion(Version),
		sdk.WithDescription("Delivers signed webhooks."),
		sdk.WithAction(sdk.Spec{
			Name:        "deliver",
			Description: "POSTs a JSON payload once, signed with HMAC-SHA256; 5xx, 429 and network failures are retryable, 4xx permanent.",
			Config:      ConfigSchema,
			Inputs:      InputSchema,
			Outputs:     OutputSchema,
		}, func() sdk.Action { return &Deliver{} }),
	}
}

// Deliver is the webhook.deliver action.
type Deliver struct {
	client    *http.Client
	timeout   time.Duration
	userAgent string
	secret    string
	allowed   []string
}

// Configure builds the pooled client.
func (d *Deliver) Configure(_ context.Context, config map[string]any) error {
	c := sdk.Config(config)
	d.timeout = c.Duration("timeout")
	d.userAgent = c.String("user_agent")
	d.secret = c.String("secret")
	d.allowed = c.Strings("allowed_hosts")
	if d.timeout <= 0 {
		return errors.New("plugin webhook: configure: timeout must be positive")
	}
	d.client = pluginutil.NewHTTPClient(d.allowed)
	return nil
}

// Run makes one delivery attempt; retries are the engine's.
func (d *Deliver) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	in, err := pluginutil.Inputs(prefix, InputSchema, req.Inputs)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	u, err := pluginutil.ParseURL(in.String("url"))
	if err != nil {
		return sdk.ActionResponse{}, pluginutil.Invalid("%s: %v", prefix, err)
	}
	if err := pluginutil.CheckHost(d.allowed, u); err != nil {
		return sdk.ActionResponse{}, fmt.Errorf("%s: %w", prefix, err)
	}
	timeout := d.timeout
	if in.Has("timeout") {
		timeout = in.Duration("timeout")
	}
	secret := d.secret
	if in.Has("secret") {
		secret = in.String("secret")
	}
	id := req.IdempotencyKey
	if id == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := pluginutil.Deliver(ctx, d.client, prefix, pluginutil.Webhook{
		URL: u.String(), Payload: in["payload"], Event: in.String("event"), Secret: secret,
		DeliveryID: id, Headers: in.StringMap("headers"), UserAgent: d.userAgent,
	})
	out := map[string]any{"status": res.Status, "delivery_id": id, "duration_ms": res.Duration.Milliseconds()}
	resp := sdk.ActionResponse{Outputs: out}
	resp.Log(slog.LevelInfo, fmt.Sprintf("delivery %s to %s -> %d", id, u.Redacted(), res.Status))
	return resp, err
}

// Close releases pooled connections.
func (d *Deliver) Close(context.Context) error {
	if d.client != nil {
		d.client.CloseIdleConnections()
	}
	return nil
}

var _ sdk.Action = (*Deliver)(nil)
