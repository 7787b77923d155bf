package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/heady-dev/heady/plugins/internal/mailer"
	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
)

// Version is the plugin's version.
const Version = "1.0.0"

// ConfigSchema is the configuration of email.send.
var ConfigSchema = sdk.Schema{Attributes: append(mailer.ConfigAttributes(),
	sdk.Attribute{Name: "timeout", Type: sdk.TypeDuration, Default: "30s", Description: "Deadline for one send (connect to QUIT).", Example: `"10s"`},
)}

// InputSchema is the inputs of email.send.
var InputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "to", Type: sdk.TypeAny, Required: true, Description: "Recipient address, or a list of them.", Example: `"ada@example.com"`},
	{Name: "cc", Type: sdk.TypeAny, Description: "Carbon-copy address or list.", Example: `["ops@example.com"]`},
	{Name: "subject", Type: sdk.TypeString, Required: true, Description: "Subject line (UTF-8).", Example: `"Welcome"`},
	{Name: "body", Type: sdk.TypeString, Default: "", Description: "Plain-text body.", Example: `"Hello"`},
	{Name: "html", Type: sdk.TypeString, Description: "Optional HTML body, sent as multipart/alternative with the text.", Example: `"<p>Hello</p>"`},
	{Name: "from", Type: sdk.TypeString, Description: "Sender; defaults to the configured from.", Example: `"support@example.com"`},
}}

// OutputSchema documents the outputs of email.send.
var OutputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "message_id", Type: sdk.TypeString, Description: "The Message-ID header sent."},
	{Name: "accepted", Type: sdk.TypeStringList, Description: "Recipients the server accepted."},
	{Name: "rejected", Type: sdk.TypeStringList, Description: "Recipients the server refused (the send succeeds when at least one was accepted)."},
	{Name: "tls", Type: sdk.TypeBool, Description: "Whether the connection was upgraded with STARTTLS."},
}}

// Options are the sdk.Serve options of heady-plugin-email.
func Options() []sdk.Option {
	return []sdk.Option{
		sdk.WithName("email"),
		sdk.WithVersion(Version),
		sdk.WithDescription("Sends e-mail through an SMTP server."),
		sdk.WithAction(sdk.Spec{
			Name:        "send",
			Description: "Sends one e-mail through the configured SMTP server (STARTTLS, AUTH PLAIN).",
			Config:      ConfigSchema,
			Inputs:      InputSchema,
			Outputs:     OutputSchema,
		}, func() sdk.Action { return &Send{} }),
	}
}

// Send is the email.send action.
type Send struct {
	cfg mailer.Config
}

// Configure validates the SMTP settings.
func (s *Send) Configure(_ context.Context, config map[string]any) error {
	mc, err := mailer.FromConfig(sdk.Config(config))
	if err != nil {
		return fmt.Errorf("plugin email: configure: %w", err)
	}
	s.cfg = mc
	return nil
}

// Run sends the message.
func (s *Send) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	in, err := pluginutil.Inputs("plugin email: send", InputSchema, req.Inputs)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	to, err := mailer.AddressList(in["to"])
	if err != nil {
		return sdk.ActionResponse{}, pluginutil.Invalid("plugin email: send: to: %v", err)
	}
	cc, err := mailer.AddressList(in["cc"])
	if err != nil {
		return sdk.ActionResponse{}, pluginutil.Invalid("plugin email: send: cc: %v", err)
	}
	res, err := mailer.Send(ctx, s.cfg, mailer.Message{
		From: in.String("from"), To: to, Cc: cc,
		Subject: in.String("subject"), Text: in.String("body"), HTML: in.String("html"),
		IdempotencyKey: req.IdempotencyKey,
	})
	out := map[string]any{
		"message_id": res.MessageID,
		"accepted":   orEmpty(res.Accepted),
		"rejected":   orEmpty(res.Rejected),
		"tls":        res.TLS,
	}
	if err != nil {
		return sdk.ActionResponse{Outputs: out}, prefixErr("plugin email: send", err)
	}
	var resp sdk.ActionResponse
	resp.Outputs = out
	resp.Log(slog.LevelInfo, fmt.Sprintf("sent %s to %d recipient(s)", res.MessageID, len(res.Accepted)))
	return resp, nil
}

// Close does nothing: connections are not kept between sends.
func (s *Send) Close(context.Context) error { return nil }

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func prefixErr(prefix string, err error) error {
	e := sdk.AsError(err)
	return &sdk.Error{Code: e.Code, Message: prefix + ": " + e.Message, Retryable: e.Retryable, Err: err}
}

var _ sdk.Action = (*Send)(nil)
