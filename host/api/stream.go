package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// StreamMessage is one server-sent event of GET /stream.
type StreamMessage struct {
	// Event names the kind: "execution" (a workflow.Update), "event" (an
	// accepted event), "resync" (messages were dropped; reload what you show).
	Event string
	// Data is encoded as JSON on the data line.
	Data any
}

// StreamSource is the live feed behind GET /stream. Subscribe returns a
// channel of messages and a function that ends the subscription. The source
// closes the channel when it shuts down. A subscriber that does not keep up
// loses messages and receives a "resync" message instead of blocking the
// producers.
type StreamSource interface {
	Subscribe() (msgs <-chan StreamMessage, cancel func())
}

// WhoAmI is the body of GET /whoami.
type WhoAmI struct {
	Name string `json:"name"`
	// Role is reader, operator or admin.
	Role string `json:"role"`
	// Kind is "token" or "anonymous".
	Kind string `json:"kind"`
}

// StreamHeartbeat is how often an idle stream sends a comment line, so that
// proxies keep it open and a vanished client is noticed.
var StreamHeartbeat = 15 * time.Second

func (s *Server) streamRoutes() []Route {
	return []Route{
		{Method: fiber.MethodGet, Path: "/whoami", Summary: "The caller's name and role (what the dashboard may offer)", Tag: "auth",
			Role: RoleReader, Action: "auth.whoami", Response: WhoAmI{}, Handler: s.getWhoAmI},
		{Method: fiber.MethodGet, Path: "/stream", Summary: "Live updates as server-sent events: execution progress, accepted events, resync", Tag: "stream",
			Role: RoleReader, Action: "stream.open", Raw: true, Handler: s.getStream},
	}
}

func (s *Server) getWhoAmI(c *fiber.Ctx) error {
	p := PrincipalOf(c)
	role := p.Role
	if role == "" {
		role = RoleReader
	}
	return c.JSON(WhoAmI{Name: p.Name, Role: role, Kind: p.Kind})
}

// getStream serves text/event-stream until the client goes away, the
// source closes or the server shuts down. The request is audited once,
// when the stream opens.
func (s *Server) getStream(c *fiber.Ctx) error {
	src := s.svc().Stream
	if src == nil {
		return unavailable("the live stream")
	}
	msgs, cancel := src.Subscribe()
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache, no-store")
	c.Set("X-Accel-Buffering", "no")
	c.Status(fiber.StatusOK)
	conn := c.Context().Conn()
	done := c.Context().Done()
	timeout := s.opts.RequestTimeout
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		// The server's write timeout covers a whole response; a stream
		// extends it before every write instead.
		extend := func() {
			if conn != nil {
				_ = conn.SetWriteDeadline(time.Now().Add(timeout))
			}
		}
		extend()
		if _, err := fmt.Fprint(w, "retry: 2000\n: connected\n\n"); err != nil || w.Flush() != nil {
			return
		}
		tick := time.NewTicker(StreamHeartbeat)
		defer tick.Stop()
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					return
				}
				extend()
				if err := writeSSE(w, m); err != nil {
					return
				}
				// Write what is already queued, then flush once.
			drain:
				for n := 0; n < 64; n++ {
					select {
					case m, ok = <-msgs:
						if !ok {
							_ = w.Flush()
							return
						}
						if err := writeSSE(w, m); err != nil {
							return
						}
					default:
						break drain
					}
				}
				if w.Flush() != nil {
					return
				}
			case <-tick.C:
				extend()
				if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || w.Flush() != nil {
					return
				}
			case <-done:
				return
			}
		}
	})
	return nil
}

func writeSSE(w *bufio.Writer, m StreamMessage) error {
	b, err := json.Marshal(m.Data)
	if err != nil {
		b = []byte(`null`)
	}
	ev := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, m.Event)
	if ev == "" {
		ev = "message"
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev, b)
	return err
}
