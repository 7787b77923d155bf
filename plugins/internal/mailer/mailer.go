// Package mailer sends e-mail over SMTP for the built-in email and notify
// plugins: STARTTLS (auto, always or never), AUTH
// PLAIN over TLS (or in the clear to a loopback server only), multipart
// text/HTML messages with RFC 5322 headers, and classification of SMTP
// failures (4xx and network errors retryable, 5xx permanent).
package mailer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/heady-dev/heady/sdk"
)

// StartTLS modes.
const (
	StartTLSAuto   = "auto"
	StartTLSAlways = "always"
	StartTLSNever  = "never"
)

// Config is where and how to send.
type Config struct {
	// Addr is the SMTP server's host:port.
	Addr string
	// From is the default sender.
	From     string
	Username string
	Password string
	// StartTLS is auto (upgrade when offered), always (fail unless
	// offered) or never.
	StartTLS      string
	TLSSkipVerify bool
	// RootCAs, when set, replaces the system roots for verification.
	RootCAs *x509.CertPool
	// Helo is the name sent in EHLO (default "localhost").
	Helo    string
	Timeout time.Duration
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("smtp_addr %q: %v", c.Addr, err)
	}
	switch c.StartTLS {
	case "", StartTLSAuto, StartTLSAlways, StartTLSNever:
	default:
		return fmt.Errorf("starttls %q: want auto, always or never", c.StartTLS)
	}
	if c.From != "" {
		if _, err := mail.ParseAddress(c.From); err != nil {
			return fmt.Errorf("from %q: %v", c.From, err)
		}
	}
	if c.Password != "" && c.Username == "" {
		return errors.New("password is set but username is not")
	}
	return nil
}

// Message is one e-mail.
type Message struct {
	From    string
	To      []string
	Cc      []string
	Subject string
	Text    string
	HTML    string
	// IdempotencyKey, when set, makes the Message-ID deterministic, so
	// that receivers can discard duplicates of a retried send.
	IdempotencyKey string
}

// Result is what the server accepted.
type Result struct {
	MessageID string
	Accepted  []string
	Rejected  []string
	TLS       bool
}

// Send delivers msg through the server in cfg.
func Send(ctx context.Context, cfg Config, msg Message) (Result, error) {
	from := msg.From
	if from == "" {
		from = cfg.From
	}
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return Result{}, invalid("from %q: %v", from, err)
	}
	to, err := parseList("to", msg.To)
	if err != nil {
		return Result{}, err
	}
	if len(to) == 0 {
		return Result{}, invalid("no recipients")
	}
	cc, err := parseList("cc", msg.Cc)
	if err != nil {
		return Result{}, err
	}
	if strings.ContainsAny(msg.Subject, "\r\n") {
		return Result{}, invalid("subject contains a line break")
	}
	id := messageID(fromAddr.Address, msg.IdempotencyKey)
	data, err := build(fromAddr, to, cc, msg, id)
	if err != nil {
		return Result{}, invalid("build message: %v", err)
	}

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(cfg.Addr)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return Result{}, transport(ctx, "dial "+cfg.Addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return Result{}, classify(ctx, "greeting", err)
	}
	defer c.Close()
	helo := cfg.Helo
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return Result{}, classify(ctx, "ehlo", err)
	}
	res := Result{MessageID: id}
	mode := cfg.StartTLS
	if mode == "" {
		mode = StartTLSAuto
	}
	offered, _ := c.Extension("STARTTLS")
	switch {
	case mode == StartTLSAlways && !offered:
		return Result{}, &sdk.Error{Code: "smtp_no_starttls", Message: fmt.Sprintf("server %s does not offer STARTTLS and starttls is \"always\"", cfg.Addr)}
	case mode != StartTLSNever && offered:
		tc := &tls.Config{ServerName: host, InsecureSkipVerify: cfg.TLSSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // opt-in
		tc.RootCAs = cfg.RootCAs
		if err := c.StartTLS(tc); err != nil {
			return Result{}, &sdk.Error{Code: "smtp_tls", Message: "starttls: " + err.Error(), Retryable: false, Err: err}
		}
		res.TLS = true
	}
	if cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return Result{}, &sdk.Error{Code: "smtp_auth", Message: fmt.Sprintf("server %s does not offer AUTH", cfg.Addr)}
		}
		// smtp.PlainAuth refuses to send credentials in the clear unless
		// the server is on loopback.
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, host)); err != nil {
			return Result{}, &sdk.Error{Code: "smtp_auth", Message: "auth: " + err.Error(), Err: err}
		}
	}
	if err := c.Mail(fromAddr.Address); err != nil {
		return Result{}, classify(ctx, "mail from", err)
	}
	var lastErr error
	for _, a := range append(append([]*mail.Address{}, to...), cc...) {
		if err := c.Rcpt(a.Address); err != nil {
			var tp *textproto.Error
			if errors.As(err, &tp) {
				res.Rejected = append(res.Rejected, a.Address)
				lastErr = err
				continue
			}
			return Result{}, classify(ctx, "rcpt to", err)
		}
		res.Accepted = append(res.Accepted, a.Address)
	}
	if len(res.Accepted) == 0 {
		return res, classify(ctx, "rcpt to: every recipient was rejected", lastErr)
	}
	w, err := c.Data()
	if err != nil {
		return res, classify(ctx, "data", err)
	}
	if _, err := w.Write(data); err != nil {
		return res, classify(ctx, "data", err)
	}
	if err := w.Close(); err != nil {
		return res, classify(ctx, "data", err)
	}
	_ = c.Quit()
	return res, nil
}

func invalid(format string, args ...any) error {
	return &sdk.Error{Code: sdk.CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

func transport(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil || isTimeout(err) {
		return &sdk.Error{Code: sdk.CodeTimeout, Message: what + ": " + err.Error(), Retryable: true, Err: err}
	}
	return &sdk.Error{Code: sdk.CodeUnavailable, Message: what + ": " + err.Error(), Retryable: true, Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// classify maps an SMTP reply to an error: 4xx retryable ("smtp_4xx"),
// 5xx permanent ("smtp_5xx"); anything else is a transport failure.
func classify(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	var tp *textproto.Error
	if errors.As(err, &tp) {
		code := fmt.Sprintf("smtp_%d", tp.Code)
		return &sdk.Error{Code: code, Message: fmt.Sprintf("%s: %d %s", what, tp.Code, tp.Msg), Retryable: tp.Code < 500, Err: err}
	}
	return transport(ctx, what, err)
}

func parseList(field string, in []string) ([]*mail.Address, error) {
	var out []*mail.Address
	for _, s := range in {
		if strings.TrimSpace(s) == "" {
			continue
		}
		list, err := mail.ParseAddressList(s)
		if err != nil {
			return nil, invalid("%s %q: %v", field, s, err)
		}
		out = append(out, list...)
	}
	return out, nil
}

func messageID(from, key string) string {
	domain := "localhost"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	var id string
	if key != "" {
		sum := sha256.Sum256([]byte(key))
		id = hex.EncodeToString(sum[:16])
	} else {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	return "<" + id + "@" + domain + ">"
}

func joinAddrs(as []*mail.Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

func build(from *mail.Address, to, cc []*mail.Address, msg Message, id string) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", from.String())
	h("To", joinAddrs(to))
	if len(cc) > 0 {
		h("Cc", joinAddrs(cc))
	}
	h("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	h("Date", time.Now().Format(time.RFC1123Z))
	h("Message-ID", id)
	h("MIME-Version", "1.0")
	if msg.HTML == "" {
		h("Content-Type", "text/plain; charset=utf-8")
		h("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		if err := writeQP(&b, msg.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h("Content-Type", "multipart/alternative; boundary="+mw.Boundary())
	b.WriteString("\r\n")
	for _, part := range []struct{ typ, text string }{{"text/plain", msg.Text}, {"text/html", msg.HTML}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeQP(pw, part.text); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	b.Write(body.Bytes())
	return b.Bytes(), nil
}

func writeQP(w interface{ Write([]byte) (int, error) }, s string) error {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	qp := quotedprintable.NewWriter(w)
	if _, err := qp.Write([]byte(s)); err != nil {
		return err
	}
	return qp.Close()
}

// ConfigAttributes are the SMTP settings shared by the email and notify
// plugins' configuration schemas.
func ConfigAttributes() []sdk.Attribute {
	return []sdk.Attribute{
		{Name: "smtp_addr", Type: sdk.TypeString, Default: "127.0.0.1:25", Description: "SMTP server, host:port.", Example: `"smtp.example.com:587"`},
		{Name: "from", Type: sdk.TypeString, Default: "heady@localhost", Description: "Default sender address.", Example: `"Heady <heady@example.com>"`},
		{Name: "username", Type: sdk.TypeString, Description: "AUTH PLAIN user name; empty sends without authentication.", Example: `"heady"`},
		{Name: "password", Type: sdk.TypeString, Description: "AUTH PLAIN password.", Example: `env("SMTP_PASSWORD")`},
		{Name: "starttls", Type: sdk.TypeString, Default: "auto", Description: "auto: upgrade with STARTTLS when the server offers it; always: refuse to send without it; never: plain text.", Example: `"always"`},
		{Name: "tls_skip_verify", Type: sdk.TypeBool, Default: false, Description: "Skip verification of the server's TLS certificate (testing only).", Example: "true"},
		{Name: "ca_file", Type: sdk.TypeString, Description: "PEM file of certificate authorities to trust instead of the system roots.", Example: `"/etc/heady/smtp-ca.pem"`},
		{Name: "helo", Type: sdk.TypeString, Default: "localhost", Description: "Name announced in EHLO.", Example: `"heady.example.com"`},
	}
}

// FromConfig builds a Config from a decoded configuration that declares
// ConfigAttributes; timeout is read from the "timeout" attribute.
func FromConfig(c sdk.Config) (Config, error) {
	mc := Config{
		Addr:          c.String("smtp_addr"),
		From:          c.String("from"),
		Username:      c.String("username"),
		Password:      c.String("password"),
		StartTLS:      c.String("starttls"),
		TLSSkipVerify: c.Bool("tls_skip_verify"),
		Helo:          c.String("helo"),
		Timeout:       c.Duration("timeout"),
	}
	if f := c.String("ca_file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return mc, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return mc, fmt.Errorf("ca_file %s: no PEM certificates", f)
		}
		mc.RootCAs = pool
	}
	return mc, mc.Validate()
}

// AddressList accepts a string or a list of strings (JSON form).
func AddressList(v any) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{t}, nil
	case []string:
		return t, nil
	case []any:
		out := make([]string, 0, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d is %T, want a string", i, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string or a list of strings, got %T", v)
}
