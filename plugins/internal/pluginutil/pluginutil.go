// Package pluginutil holds what the built-in action plugins share: input
// validation against a component's declared input schema, classification
// of HTTP and network failures into sdk errors, and signing and delivery
// of outgoing webhooks.
package pluginutil

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heady-dev/heady/sdk"
)

// Inputs checks a step's inputs against the component's declared input
// schema (types, required attributes, unknown attributes) and returns them
// with the schema's defaults applied. A mismatch is a permanent "invalid"
// error prefixed with prefix (for example "plugin http: request"). As in
// HCL, an input set to null counts as not set.
func Inputs(prefix string, schema sdk.Schema, in map[string]any) (sdk.Config, error) {
	clean := make(map[string]any, len(in))
	for k, v := range in {
		if v != nil {
			clean[k] = v
		}
	}
	out, diags := schema.ApplyDefaults(clean)
	if diags.HasErrors() {
		return nil, &sdk.Error{Code: sdk.CodeInvalid, Message: prefix + ": inputs: " + diags.Error()}
	}
	return sdk.Config(out), nil
}

// Invalid returns a permanent "invalid" error.
func Invalid(format string, args ...any) error {
	return &sdk.Error{Code: sdk.CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

// StatusRetryable reports whether an HTTP status is worth retrying: 5xx
// and 429.
func StatusRetryable(status int) bool { return status >= 500 || status == http.StatusTooManyRequests }

// StatusError is the error for an unexpected HTTP status: code
// "http_<status>", retryable for 5xx and 429, permanent otherwise.
func StatusError(prefix string, status int, detail string) error {
	msg := fmt.Sprintf("%s: unexpected status %d %s", prefix, status, http.StatusText(status))
	if detail = strings.TrimSpace(detail); detail != "" {
		if len(detail) > 200 {
			detail = detail[:200] + "..."
		}
		msg += ": " + detail
	}
	return &sdk.Error{Code: "http_" + strconv.Itoa(status), Message: msg, Retryable: StatusRetryable(status)}
}

// TransportError classifies a failure to reach a server: a deadline is
// "timeout", a cancellation "canceled", anything else "unavailable"; all
// retryable. Errors that are already classified pass through.
func TransportError(ctx context.Context, prefix string, err error) error {
	var se *sdk.Error
	if errors.As(err, &se) {
		return err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &sdk.Error{Code: sdk.CodeTimeout, Message: prefix + ": " + err.Error(), Retryable: true, Err: err}
	case errors.Is(err, context.Canceled):
		return &sdk.Error{Code: sdk.CodeCanceled, Message: prefix + ": " + err.Error(), Retryable: true, Err: err}
	}
	return &sdk.Error{Code: sdk.CodeUnavailable, Message: prefix + ": " + err.Error(), Retryable: true, Err: err}
}

// NewHTTPClient returns a client with its own pooled transport. Redirects
// are not followed unless the request context says so (see
// WithRedirects); allowed, when non-empty, restricts every request and
// redirect to those hosts.
func NewHTTPClient(allowed []string) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	tr.Proxy = nil
	c := &http.Client{Transport: tr}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		n, _ := req.Context().Value(redirectKey{}).(int)
		if len(via) > n {
			if n == 0 {
				return http.ErrUseLastResponse
			}
			return fmt.Errorf("stopped after %d redirects", n)
		}
		return CheckHost(allowed, req.URL)
	}
	return c
}

type redirectKey struct{}

// WithRedirects allows up to n redirects for requests made with ctx.
func WithRedirects(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, redirectKey{}, n)
}

// CheckHost checks u against an allow-list of host names (exact, case
// insensitive, optionally with ":port"; "*.example.com" matches
// subdomains). An empty list allows everything.
func CheckHost(allowed []string, u *url.URL) error {
	if len(allowed) == 0 {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	hostport := strings.ToLower(u.Host)
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case a == host || a == hostport:
			return nil
		case strings.HasPrefix(a, "*.") && strings.HasSuffix(host, a[1:]):
			return nil
		}
	}
	return &sdk.Error{Code: "host_not_allowed", Message: fmt.Sprintf("host %q is not in allowed_hosts", u.Host)}
}

// ParseURL parses an absolute http(s) URL.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, Invalid("url %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, Invalid("url %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, Invalid("url %q: no host", raw)
	}
	return u, nil
}

// Sign returns the X-Heady-Signature-256 value for body: "sha256=" and the
// hex HMAC-SHA256 of the raw body with secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks an X-Heady-Signature-256 header value in constant
// time.
func VerifySignature(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(strings.TrimSpace(header)))
}

// Webhook headers.
const (
	HeaderEvent     = "X-Heady-Event"
	HeaderSignature = "X-Heady-Signature-256"
	HeaderDelivery  = "X-Heady-Delivery"
	HeaderTimestamp = "X-Heady-Timestamp"
)

// Webhook is one outgoing webhook delivery.
type Webhook struct {
	URL        string
	Payload    any
	Event      string
	Secret     string
	DeliveryID string
	Headers    map[string]string
	UserAgent  string
	Now        time.Time
}

// Delivery is the result of one delivery attempt.
type Delivery struct {
	Status   int
	Body     string
	Duration time.Duration
}

// Deliver makes exactly one attempt to deliver w with client. A status
// outside 2xx is a StatusError; network failures are TransportErrors.
func Deliver(ctx context.Context, client *http.Client, prefix string, w Webhook) (Delivery, error) {
	start := time.Now()
	u, err := ParseURL(w.URL)
	if err != nil {
		return Delivery{}, err
	}
	body, err := json.Marshal(w.Payload)
	if err != nil {
		return Delivery{}, Invalid("%s: encode payload: %v", prefix, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return Delivery{}, Invalid("%s: %v", prefix, err)
	}
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	if w.UserAgent != "" && req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", w.UserAgent)
	}
	if w.Event != "" {
		req.Header.Set(HeaderEvent, w.Event)
	}
	if w.DeliveryID != "" {
		req.Header.Set(HeaderDelivery, w.DeliveryID)
	}
	now := w.Now
	if now.IsZero() {
		now = time.Now()
	}
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	if w.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(w.Secret, body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return Delivery{Duration: time.Since(start)}, TransportError(ctx, prefix, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	d := Delivery{Status: resp.StatusCode, Body: string(rb), Duration: time.Since(start)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return d, StatusError(prefix, resp.StatusCode, string(rb))
	}
	return d, nil
}
