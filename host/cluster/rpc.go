package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// Cluster RPCs (after the handshake, on connections of kind RPC): each
// request and response is a frame, a uvarint length followed by the body.
//
//	request  = method:byte payload
//	response = status:byte payload      status: 0 ok, 1 error, 2 not leader
//
// A not-leader answer carries the leader's cluster address, if known, so
// the caller can retry there.
const (
	rpcApply  byte = 1
	rpcJoin   byte = 2
	rpcRemove byte = 3

	statusOK        byte = 0
	statusError     byte = 1
	statusNotLeader byte = 2

	maxFrame = 256 << 20
)

// errRetry marks a failure that happened before the leader could act (no
// leader, connection refused): the caller may try again.
var errRetry = errors.New("cluster: retry")

func writeFrame(w *bufio.Writer, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	var hdr [binary.MaxVarintLen64]byte
	if _, err := w.Write(hdr[:binary.PutUvarint(hdr[:], uint64(n))]); err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return w.Flush()
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n == 0 || n > maxFrame {
		return nil, fmt.Errorf("cluster: rpc: bad frame length %d", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

func (n *Node) serveRPC(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	for {
		req, err := readFrame(r)
		if err != nil {
			return
		}
		status, payload := n.handleRPC(req[0], req[1:])
		if err := writeFrame(w, []byte{status}, payload); err != nil {
			return
		}
	}
}

func (n *Node) notLeader() (byte, []byte) {
	_, addr := n.Leader()
	return statusNotLeader, []byte(addr)
}

func (n *Node) handleRPC(method byte, payload []byte) (byte, []byte) {
	if !n.IsLeader() {
		return n.notLeader()
	}
	switch method {
	case rpcApply:
		f := n.raft.Apply(payload, n.cfg.ApplyTimeout)
		if err := f.Error(); err != nil {
			if errors.Is(err, raft.ErrNotLeader) {
				return n.notLeader()
			}
			return statusError, []byte(err.Error())
		}
		res, _ := f.Response().(applyResult)
		if res.err != nil {
			return statusError, []byte(res.err.Error())
		}
		b := binary.AppendUvarint(nil, f.Index())
		b = binary.AppendUvarint(b, uint64(len(res.errs)))
		for _, e := range res.errs {
			msg := ""
			if e != nil {
				msg = e.Error()
			}
			b = binary.AppendUvarint(b, uint64(len(msg)))
			b = append(b, msg...)
		}
		return statusOK, b
	case rpcJoin:
		id, addr, ok := strings.Cut(string(payload), "\x00")
		if !ok {
			return statusError, []byte("bad join request")
		}
		if err := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, n.cfg.ApplyTimeout).Error(); err != nil {
			if errors.Is(err, raft.ErrNotLeader) {
				return n.notLeader()
			}
			return statusError, []byte(err.Error())
		}
		n.log.Info("server joined", "id", id)
		return statusOK, nil
	case rpcRemove:
		if err := n.raft.RemoveServer(raft.ServerID(payload), 0, n.cfg.ApplyTimeout).Error(); err != nil {
			if errors.Is(err, raft.ErrNotLeader) {
				return n.notLeader()
			}
			return statusError, []byte(err.Error())
		}
		n.log.Info("server removed", "id", string(payload))
		return statusOK, nil
	}
	return statusError, []byte(fmt.Sprintf("unknown method %d", method))
}

type rpcClient struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func (n *Node) dialRPC(addr string, timeout time.Duration) (*rpcClient, error) {
	c, err := dialKind(addr, n.cfg.Key, kindRPC, timeout)
	if err != nil {
		return nil, err
	}
	return &rpcClient{addr: addr, conn: c, r: bufio.NewReader(c), w: bufio.NewWriter(c)}, nil
}

func (c *rpcClient) call(method byte, payload []byte, timeout time.Duration) (byte, []byte, error) {
	_ = c.conn.SetDeadline(time.Now().Add(timeout))
	if err := writeFrame(c.w, []byte{method}, payload); err != nil {
		return 0, nil, err
	}
	resp, err := readFrame(c.r)
	if err != nil {
		return 0, nil, err
	}
	return resp[0], resp[1:], nil
}

// applyAt sends one batch to the leader at addr over the pooled connection
// and returns the per-request errors and the entry's log index.
func (n *Node) applyAt(addr string, data []byte) ([]error, uint64, error) {
	n.rpcMu.Lock()
	defer n.rpcMu.Unlock()
	if n.rpcConn != nil && n.rpcConn.addr != addr {
		_ = n.rpcConn.conn.Close()
		n.rpcConn = nil
	}
	if n.rpcConn == nil {
		c, err := n.dialRPC(addr, 2*time.Second)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: dial leader %s: %v", errRetry, addr, err)
		}
		n.rpcConn = c
	}
	status, payload, err := n.rpcConn.call(rpcApply, data, n.cfg.ApplyTimeout+2*time.Second)
	if err != nil {
		_ = n.rpcConn.conn.Close()
		n.rpcConn = nil
		return nil, 0, fmt.Errorf("cluster: forward write to leader %s: %w", addr, err)
	}
	switch status {
	case statusNotLeader:
		return nil, 0, errRetry
	case statusError:
		return nil, 0, fmt.Errorf("cluster: leader %s: %s", addr, payload)
	}
	r := &reader{b: payload}
	idx := r.uvarint()
	ne := r.uvarint()
	var errs []error
	for i := uint64(0); i < ne && r.err == nil; i++ {
		msg := r.bytes(r.uvarint())
		var e error
		if len(msg) > 0 {
			e = errors.New(string(msg))
		}
		errs = append(errs, e)
	}
	if r.err != nil {
		return nil, 0, fmt.Errorf("cluster: forward write: bad response: %w", r.err)
	}
	return errs, idx, nil
}

// callAt makes one RPC on a fresh connection. A not-leader answer returns
// the leader's address as redirect and an error wrapping errRetry.
func (n *Node) callAt(ctx context.Context, addr string, method byte, payload []byte) (redirect string, err error) {
	timeout := n.cfg.ApplyTimeout + 2*time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	c, err := n.dialRPC(addr, min(timeout, 5*time.Second))
	if err != nil {
		return "", fmt.Errorf("%w: %v", errRetry, err)
	}
	defer c.conn.Close()
	status, resp, err := c.call(method, payload, timeout)
	if err != nil {
		return "", fmt.Errorf("cluster: rpc %s: %w", addr, err)
	}
	switch status {
	case statusOK:
		return "", nil
	case statusNotLeader:
		return string(resp), fmt.Errorf("%w: %s is not the leader", errRetry, addr)
	}
	return "", fmt.Errorf("cluster: %s: %s", addr, resp)
}
