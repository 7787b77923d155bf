package healing

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/heady-dev/heady/host/config"
)

// mailbox is a real SMTP server (go-smtp) on loopback that keeps messages.
type mailbox struct {
	mu   sync.Mutex
	msgs []string
	to   []string
}

type mailSession struct{ m *mailbox }

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.mu.Lock()
	s.m.to = append(s.m.to, to)
	s.m.mu.Unlock()
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, string(b))
	s.m.mu.Unlock()
	return err
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

func TestEmailAlert(t *testing.T) {
	m := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	tests := []struct {
		name      string
		starttls  bool
		delivered int
	}{
		{"plain server", false, 1},
		{"starttls required but not offered", true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m.mu.Lock()
			m.msgs, m.to = nil, nil
			m.mu.Unlock()
			a := NewAlerter(nil)
			a.SetNotifiers([]*config.Notifier{{Name: "mail", Kind: "email", SMTP: ln.Addr().String(), From: "heady@example.com",
				To: []string{"ops@example.com", "oncall@example.com"}, StartTLS: tc.starttls}})
			a.Raise(context.Background(), Alert{Key: "check:disk", State: "unhealthy", Title: "Heady: check disk is unhealthy", Message: "97% used"})
			m.mu.Lock()
			defer m.mu.Unlock()
			if len(m.msgs) != tc.delivered {
				t.Fatalf("%d messages, want %d", len(m.msgs), tc.delivered)
			}
			if tc.delivered > 0 {
				if !strings.Contains(m.msgs[0], "Subject: Heady: check disk is unhealthy") || !strings.Contains(m.msgs[0], "97% used") || len(m.to) != 2 {
					t.Fatalf("message %q to %v", m.msgs[0], m.to)
				}
			}
		})
	}
}
