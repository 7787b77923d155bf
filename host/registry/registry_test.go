package registry

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) emit(_ context.Context, typ string, data map[string]any) {
	r.mu.Lock()
	r.events = append(r.events, typ+":"+data["id"].(string))
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func open(t *testing.T, dir string, c *clock, rec *recorder) (*Registry, *store.Store) {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), st, Options{Now: c.now, Emit: rec.emit})
	if err != nil {
		t.Fatal(err)
	}
	return r, st
}

func TestLivenessTransitions(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	rec := &recorder{}
	dir := t.TempDir()
	r, st := open(t, dir, c, rec)
	if _, err := r.Register(ctx, Registration{ID: "a1", Name: "agent-1", Address: "127.0.0.1", TTL: Duration(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		advance time.Duration
		beat    bool
		want    string
	}{
		{"fresh is alive", 5 * time.Second, false, StateAlive},
		{"one ttl silent is suspect", 6 * time.Second, false, StateSuspect},
		{"two ttl silent is dead", 10 * time.Second, false, StateDead},
		{"heartbeat revives", time.Second, true, StateAlive},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			c.add(s.advance)
			if s.beat {
				if _, err := r.Heartbeat(ctx, "a1", Heartbeat{Metrics: map[string]float64{"cpu": 12}}); err != nil {
					t.Fatal(err)
				}
			}
			r.Sweep(ctx)
			n, ok := r.Get("a1")
			if !ok || n.State != s.want {
				t.Fatalf("state = %q, want %q", n.State, s.want)
			}
		})
	}
	want := []string{"node.registered:a1", "node.suspect:a1", "node.dead:a1", "node.alive:a1"}
	if got := rec.list(); !equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	// State survives a restart.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	r2, st2 := open(t, dir, c, rec)
	defer st2.Close()
	n, ok := r2.Get("a1")
	if !ok || n.Metrics["cpu"] != 12 || n.State != StateAlive || n.Name != "agent-1" {
		t.Fatalf("after reopen: %+v", n)
	}
}

func TestRegisterValidation(t *testing.T) {
	ctx := context.Background()
	r, st := open(t, t.TempDir(), &clock{t: time.Now()}, &recorder{})
	defer st.Close()
	cases := []struct {
		name string
		reg  Registration
	}{
		{"bad id", Registration{ID: "a b"}},
		{"empty", Registration{}},
		{"negative ttl", Registration{ID: "x", TTL: Duration(-time.Second)}},
		{"service without name", Registration{ID: "x", Services: []Service{{Port: 80}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Register(ctx, tc.reg); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := r.Heartbeat(ctx, "nope", Heartbeat{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("heartbeat unknown: %v", err)
	}
	if err := r.Deregister(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deregister unknown: %v", err)
	}
}

func TestTopologyGolden(t *testing.T) {
	ctx := context.Background()
	r, st := open(t, t.TempDir(), &clock{t: time.Now()}, &recorder{})
	defer st.Close()
	must := func(_ Node, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.Register(ctx, Registration{ID: "web", Address: "127.0.0.10", Services: []Service{{Name: "frontend", Port: 8080}}}))
	must(r.Register(ctx, Registration{ID: "db", Address: "127.0.0.20", Services: []Service{{Name: "postgres", Port: 5432}}}))
	must(r.Heartbeat(ctx, "web", Heartbeat{Connections: []string{"127.0.0.20:5432", "127.0.0.99:1"}}))
	r.SetDeclared([]Edge{{From: "frontend", To: "postgres", Reason: "depends_on"}, {From: "frontend", To: "cache"}})
	topo := r.Topology([]Service{{ID: "http-127.0.0.10-3000", Name: "api", URL: "http://127.0.0.10:3000/"}})

	count := map[string]int{}
	for _, e := range topo.Edges {
		count[e.Kind]++
	}
	if count[EdgeDeclared] != 2 || count[EdgeObserved] != 1 || count[EdgeHosts] != 3 {
		t.Fatalf("edge kinds = %v", count)
	}
	for _, g := range []struct{ name, got string }{{"topology.dot", topo.DOT()}, {"topology.mmd", topo.Mermaid()}} {
		t.Run(g.name, func(t *testing.T) {
			path := filepath.Join("testdata", g.name)
			if *update {
				if err := os.WriteFile(path, []byte(g.got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != g.got {
				t.Fatalf("%s differs:\n%s\nwant:\n%s", g.name, g.got, want)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
