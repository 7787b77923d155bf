package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/heady-dev/heady/host/config"
)

// FuzzVerifyWebhook feeds arbitrary signature headers and bodies to the
// verifier: it must never panic, and it may accept only the exact HMAC of
// the body (checked against Sign).
func FuzzVerifyWebhook(f *testing.F) {
	hook := &config.Webhook{Name: "h", Secret: "k3y", SignatureHeader: "X-Heady-Signature-256", Token: "tok-123"}
	f.Add([]byte(`{"a":1}`), "sha256=00", "")
	f.Add([]byte(``), "", "Bearer tok-123")
	f.Add([]byte(`x`), Sign(hook.Secret, []byte(`x`)), "")
	f.Add([]byte(`{}`), "sha256=", "Bearer ")
	f.Add([]byte(`{}`), "SHA256=ZZ", "bearer tok-123")
	f.Fuzz(func(t *testing.T, body []byte, sig, authz string) {
		headers := func(name string) string {
			switch name {
			case "X-Heady-Signature-256":
				return sig
			case "Authorization":
				return authz
			}
			return ""
		}
		err := VerifyWebhook(hook, headers, body)
		if err != nil && !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("rejection does not wrap ErrUnauthorized: %v", err)
		}
		if err == nil && !macMatches(hook.Secret, body, sig) && !tokenMatches(hook.Token, authz) {
			t.Fatalf("accepted sig %q authz %q for body %q", sig, authz, body)
		}
	})
}

// macMatches: sig, with an optional "sha256=" prefix, is the hex HMAC of
// body (either case of hex digits).
func macMatches(secret string, body []byte, sig string) bool {
	got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(sig), "sha256="))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return err == nil && hmac.Equal(got, mac.Sum(nil))
}

// tokenMatches: authz is "Bearer TOKEN" with the hook's token.
func tokenMatches(token, authz string) bool {
	tok, ok := strings.CutPrefix(strings.TrimSpace(authz), "Bearer ")
	return ok && strings.TrimSpace(tok) == token
}

// FuzzMatch checks the event type glob never panics and that a pattern
// without wildcards matches only itself.
func FuzzMatch(f *testing.F) {
	f.Add("user.*", "user.created")
	f.Add("*", "")
	f.Add("a?c", "abc")
	f.Add("**.x", "y.x")
	f.Fuzz(func(t *testing.T, pattern, typ string) {
		got := Match(pattern, typ)
		plain := true
		for _, r := range pattern {
			if r == '*' || r == '?' {
				plain = false
			}
		}
		if plain && got != (pattern == typ) {
			t.Fatalf("Match(%q, %q) = %v", pattern, typ, got)
		}
	})
}
