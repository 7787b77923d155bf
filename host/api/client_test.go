package api

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// secretOnly is a cluster whose only part in use here is the shared secret.
type secretOnly struct {
	ClusterService
	secret []byte
}

func (s secretOnly) ClientSecret() []byte { return s.secret }

// TestClientVouchedByAServer checks that the leader applies lockout and the
// anonymous-read rule to the client a follower vouches for, and ignores a
// forged or unsigned vouch.
func TestClientVouchedByAServer(t *testing.T) {
	s := &Server{opts: Options{Cluster: secretOnly{secret: []byte("cluster-secret")}}}
	app := fiber.New()
	app.Get("/who", func(c *fiber.Ctx) error {
		ip, lo := s.clientOf(c)
		if lo {
			ip += " loopback"
		}
		return c.SendString(ip)
	})
	cases := []struct {
		name, header, want string
	}{
		{"no vouch: the remote address", "", "0.0.0.0"},
		{"a server's vouch", signClient([]byte("cluster-secret"), "192.0.2.7", false), "192.0.2.7"},
		{"a vouch for a loopback client", signClient([]byte("cluster-secret"), "127.0.0.1", true), "127.0.0.1 loopback"},
		{"forged signature", signClient([]byte("wrong-secret"), "127.0.0.1", true), "0.0.0.0"},
		{"tampered claim", "127.0.0.1;true;" + signClient([]byte("cluster-secret"), "192.0.2.7", false)[len("192.0.2.7;false;"):], "0.0.0.0"},
		{"malformed", "127.0.0.1;true", "0.0.0.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/who", nil)
			if tc.header != "" {
				req.Header.Set(HeaderClient, tc.header)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != tc.want {
				t.Fatalf("client %q, want %q", b, tc.want)
			}
		})
	}
}
