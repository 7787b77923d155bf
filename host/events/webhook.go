package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/heady-dev/heady/host/config"
)

// DefaultSignatureHeader carries "sha256=<hex HMAC-SHA256 of the raw body>".
const DefaultSignatureHeader = "X-Heady-Signature-256"

// ErrUnauthorized is wrapped by every webhook verification failure.
var ErrUnauthorized = errors.New("unauthorized")

// WebhookEventType is the type of the events a webhook emits.
func WebhookEventType(hook *config.Webhook) string {
	if hook.EventType != "" {
		return hook.EventType
	}
	return "webhook." + hook.Name
}

// VerifyWebhook authenticates one inbound webhook request. headers looks up a
// request header by name (case-insensitive lookups are the caller's HTTP
// library's business); body is the raw request body.
//
// A hook with a Secret accepts a valid HMAC-SHA256 signature of the body in
// its signature header ("sha256=<hex>", or bare hex). A hook with a Token
// accepts "Authorization: Bearer <token>". With both set, either is enough.
// Comparisons are constant-time. A hook with neither is refused: an open
// endpoint must be configured explicitly by the API layer, not by accident.
func VerifyWebhook(hook *config.Webhook, headers func(string) string, body []byte) error {
	if hook == nil {
		return fmt.Errorf("webhook: %w: unknown hook", ErrUnauthorized)
	}
	if hook.Secret == "" && hook.Token == "" {
		return fmt.Errorf("webhook %s: %w: no secret or token configured", hook.Name, ErrUnauthorized)
	}
	var reasons []string
	if hook.Token != "" {
		auth := strings.TrimSpace(headers("Authorization"))
		if tok, ok := strings.CutPrefix(auth, "Bearer "); ok && auth != "" {
			if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(hook.Token)) == 1 {
				return nil
			}
			reasons = append(reasons, "bad token")
		} else {
			reasons = append(reasons, "missing bearer token")
		}
	}
	if hook.Secret != "" {
		name := hook.SignatureHeader
		if name == "" {
			name = DefaultSignatureHeader
		}
		sig := strings.TrimSpace(headers(name))
		if sig == "" {
			reasons = append(reasons, "missing signature header "+name)
		} else {
			sig = strings.TrimPrefix(sig, "sha256=")
			got, err := hex.DecodeString(sig)
			mac := hmac.New(sha256.New, []byte(hook.Secret))
			mac.Write(body)
			if err == nil && hmac.Equal(got, mac.Sum(nil)) {
				return nil
			}
			reasons = append(reasons, "bad signature")
		}
	}
	return fmt.Errorf("webhook %s: %w: %s", hook.Name, ErrUnauthorized, strings.Join(reasons, ", "))
}

// Sign returns the signature header value for body under secret
// ("sha256=<hex>"), for clients and tests.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
