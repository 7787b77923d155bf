package events

import (
	"errors"
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
		if err == nil && sig != Sign(hook.Secret, body) && authz != "Bearer "+hook.Token {
			t.Fatalf("accepted sig %q authz %q for body %q", sig, authz, body)
		}
	})
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
