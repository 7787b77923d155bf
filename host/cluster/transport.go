package cluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Every connection between servers (Raft replication and the cluster RPCs)
// starts with a mutual challenge over the shared cluster key, so a process
// that does not hold the key can neither join nor feed a server log
// entries:
//
//	server → client: magic(8) nonceS(32)
//	client → server: nonceC(32) HMAC(key, "client" nonceS nonceC) kind(1)
//	server → client: HMAC(key, "server" nonceC nonceS)
//
// kind selects the protocol spoken afterwards: Raft or RPC.
const (
	kindRaft byte = 'R'
	kindRPC  byte = 'F'
)

var magic = []byte("HEADYCL1")

// MinKeyLen is the shortest accepted cluster key.
const MinKeyLen = 16

// ErrAuth is returned when the peer does not prove it holds the key.
var ErrAuth = errors.New("cluster: peer failed authentication")

func mac(key []byte, label string, a, b []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	m.Write(a)
	m.Write(b)
	return m.Sum(nil)
}

// clientHandshake authenticates conn to the server and announces kind.
func clientHandshake(conn net.Conn, key []byte, kind byte, timeout time.Duration) error {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	defer conn.SetDeadline(time.Time{})
	hello := make([]byte, len(magic)+32)
	if _, err := io.ReadFull(conn, hello); err != nil {
		return fmt.Errorf("cluster: handshake: read challenge: %w", err)
	}
	if string(hello[:len(magic)]) != string(magic) {
		return fmt.Errorf("cluster: handshake: peer is not a heady cluster server")
	}
	nonceS := hello[len(magic):]
	nonceC := make([]byte, 32)
	if _, err := rand.Read(nonceC); err != nil {
		return err
	}
	msg := make([]byte, 0, 32+32+1)
	msg = append(msg, nonceC...)
	msg = append(msg, mac(key, "client", nonceS, nonceC)...)
	msg = append(msg, kind)
	if _, err := conn.Write(msg); err != nil {
		return fmt.Errorf("cluster: handshake: write response: %w", err)
	}
	proof := make([]byte, 32)
	if _, err := io.ReadFull(conn, proof); err != nil {
		return fmt.Errorf("%w: %v", ErrAuth, err)
	}
	if !hmac.Equal(proof, mac(key, "server", nonceC, nonceS)) {
		return ErrAuth
	}
	return nil
}

// serverHandshake authenticates the client and returns the kind it asked for.
func serverHandshake(conn net.Conn, key []byte, timeout time.Duration) (byte, error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	defer conn.SetDeadline(time.Time{})
	nonceS := make([]byte, 32)
	if _, err := rand.Read(nonceS); err != nil {
		return 0, err
	}
	if _, err := conn.Write(append(append([]byte{}, magic...), nonceS...)); err != nil {
		return 0, fmt.Errorf("cluster: handshake: write challenge: %w", err)
	}
	msg := make([]byte, 32+32+1)
	if _, err := io.ReadFull(conn, msg); err != nil {
		return 0, fmt.Errorf("cluster: handshake: read response: %w", err)
	}
	nonceC, sum, kind := msg[:32], msg[32:64], msg[64]
	if !hmac.Equal(sum, mac(key, "client", nonceS, nonceC)) {
		return 0, ErrAuth
	}
	if _, err := conn.Write(mac(key, "server", nonceC, nonceS)); err != nil {
		return 0, fmt.Errorf("cluster: handshake: write proof: %w", err)
	}
	return kind, nil
}

// mux accepts authenticated connections on one listener and splits them
// between the Raft transport and the RPC server.
type mux struct {
	ln      net.Listener
	key     []byte
	log     *slog.Logger
	raftCh  chan net.Conn
	rpc     func(net.Conn)
	done    chan struct{}
	once    sync.Once
	timeout time.Duration
	// rejected counts connections that failed authentication.
	rejected func()
}

func (m *mux) serve() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // transient accept error (EMFILE)
			continue
		}
		go m.handle(c)
	}
}

func (m *mux) handle(c net.Conn) {
	kind, err := serverHandshake(c, m.key, m.timeout)
	if err != nil {
		m.log.Warn("cluster: rejected connection", "remote", c.RemoteAddr().String(), "err", err)
		if m.rejected != nil {
			m.rejected()
		}
		_ = c.Close()
		return
	}
	switch kind {
	case kindRaft:
		select {
		case m.raftCh <- c:
		case <-m.done:
			_ = c.Close()
		}
	case kindRPC:
		m.rpc(c)
	default:
		_ = c.Close()
	}
}

func (m *mux) close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.ln.Close()
	})
	return err
}

// streamLayer is the raft.StreamLayer over the authenticated mux.
type streamLayer struct {
	m         *mux
	advertise net.Addr
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.m.raftCh:
		return c, nil
	case <-s.m.done:
		return nil, net.ErrClosed
	}
}

func (s *streamLayer) Close() error { return s.m.close() }

func (s *streamLayer) Addr() net.Addr { return s.advertise }

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialKind(string(addr), s.m.key, kindRaft, timeout)
}

func dialKind(addr string, key []byte, kind byte, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	if err := clientHandshake(c, key, kind, timeout); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// WorkerToken is the bearer token servers use for lease calls to the
// leader's API, derived from the cluster key.
func WorkerToken(key []byte) string {
	return fmt.Sprintf("hdyw_%x", mac(key, "worker-token", nil, nil))
}
