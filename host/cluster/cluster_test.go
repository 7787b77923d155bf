package cluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/store"
)

var testKey = []byte("0123456789abcdef-test-key")

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type testServer struct {
	st   *store.Store
	node *Node
}

func startCluster(t *testing.T, n int) []*testServer {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	out := make([]*testServer, n)
	for i := range out {
		dir := t.TempDir()
		st, err := store.Open(dir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		node, err := Start(context.Background(), Config{Bind: addrs[i], Join: addrs, Key: testKey,
			Dir: filepath.Join(dir, "raft"), Store: st, APIAddr: fmt.Sprintf("http://api-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		st.SetReplicator(node)
		out[i] = &testServer{st: st, node: node}
	}
	t.Cleanup(func() {
		for _, s := range out {
			if s.node != nil {
				_ = s.node.Shutdown()
			}
			_ = s.st.Close()
		}
	})
	return out
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}

func leaderOf(servers []*testServer) int {
	for i, s := range servers {
		if s.node != nil && s.node.IsLeader() {
			return i
		}
	}
	return -1
}

func TestClusterReplicatesAndFailsOver(t *testing.T) {
	servers := startCluster(t, 3)
	waitFor(t, 10*time.Second, "a leader", func() bool { return leaderOf(servers) >= 0 })
	ctx := context.Background()
	for i, s := range servers {
		if err := s.st.Apply(ctx, store.Put(fmt.Sprintf("meta/test/%d", i), []byte{byte(i)})); err != nil {
			t.Fatalf("write through server %d: %v", i, err)
		}
	}
	for i, s := range servers {
		waitFor(t, 5*time.Second, "replication", func() bool {
			for k := range servers {
				if _, err := s.st.Get(fmt.Sprintf("meta/test/%d", k)); err != nil {
					return false
				}
			}
			return true
		})
		if _, err := s.st.Get("meta/test/0"); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
	}
	old := leaderOf(servers)
	_ = servers[old].node.Shutdown()
	servers[old].node = nil
	start := time.Now()
	waitFor(t, 10*time.Second, "a new leader", func() bool { l := leaderOf(servers); return l >= 0 && l != old })
	survivor := servers[(old+1)%3]
	if err := survivor.st.Apply(ctx, store.Put("meta/test/after", []byte("x"))); err != nil {
		t.Fatalf("write after failover: %v", err)
	}
	t.Logf("failover: first write %v after the leader stopped", time.Since(start))
	st := servers[leaderOf(servers)].node.Status()
	if st.State != "Leader" || len(st.Members) != 3 {
		t.Fatalf("status = %+v", st)
	}
}

func TestSnapshotRestore(t *testing.T) {
	servers := startCluster(t, 1)
	waitFor(t, 10*time.Second, "a leader", func() bool { return leaderOf(servers) == 0 })
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		if err := servers[0].st.Apply(ctx, store.Put(fmt.Sprintf("meta/snap/%03d", i), []byte("v"))); err != nil {
			t.Fatal(err)
		}
	}
	f := newFSM(servers[0].st)
	snap, _ := f.Snapshot()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	other, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_ = other.Apply(ctx, store.Put("meta/stale", []byte("gone after restore")))
	if err := newFSM(other).Restore(sink.reader()); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get("meta/snap/099"); err != nil {
		t.Fatalf("restored store misses a key: %v", err)
	}
	if _, err := other.Get("meta/stale"); err != store.ErrNotFound {
		t.Fatalf("restore kept a key absent from the snapshot: %v", err)
	}
}

func TestHandshakeRejectsWrongKey(t *testing.T) {
	servers := startCluster(t, 1)
	addr := servers[0].node.ID()
	if _, err := dialKind(addr, []byte("another-key-of-sixteen-bytes"), kindRPC, 2*time.Second); err == nil {
		t.Fatal("a client with the wrong key was accepted")
	}
	c, err := dialKind(addr, testKey, kindRPC, 2*time.Second)
	if err != nil {
		t.Fatalf("right key refused: %v", err)
	}
	c.Close()
	waitFor(t, 5*time.Second, "rejection counted", func() bool { return servers[0].node.rejected.Load() == 1 })
}

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		reqs [][]store.Op
	}{
		{"empty", nil},
		{"one put", [][]store.Op{{store.Put("a", []byte("b"))}}},
		{"mixed", [][]store.Op{{store.Put("a", nil), store.Delete("b")}, {store.PutTTL("c", []byte("d"), time.Hour)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeBatch(encodeBatch(tt.reqs))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.reqs) {
				t.Fatalf("got %d requests, want %d", len(got), len(tt.reqs))
			}
			for i := range got {
				for j := range got[i] {
					g, w := got[i][j], tt.reqs[i][j]
					if g.Kind != w.Kind || string(g.Key) != string(w.Key) || string(g.Value) != string(w.Value) || g.TTL != w.TTL {
						t.Fatalf("op %d/%d = %+v, want %+v", i, j, g, w)
					}
				}
			}
		})
	}
	if _, err := decodeBatch([]byte{entryVersion, 5, 1}); err == nil {
		t.Fatal("truncated entry decoded")
	}
}

type memSink struct{ buf []byte }

func (m *memSink) Write(p []byte) (int, error) { m.buf = append(m.buf, p...); return len(p), nil }
func (m *memSink) Close() error                { return nil }
func (m *memSink) ID() string                  { return "mem" }
func (m *memSink) Cancel() error               { return nil }
func (m *memSink) reader() io.ReadCloser       { return io.NopCloser(bytes.NewReader(m.buf)) }
