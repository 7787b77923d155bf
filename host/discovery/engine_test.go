package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/sdk"
)

type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) emit(_ context.Context, typ string, d map[string]any) {
	e.mu.Lock()
	e.got = append(e.got, typ+":"+d["id"].(string))
	e.mu.Unlock()
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

func newEngine(t *testing.T, dir string, ev *events) (*Engine, *store.Store) {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(st, Options{Emit: ev.emit, HealthInterval: -1, HistoryLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	return e, st
}

func svc(id string) sdk.Service {
	return sdk.Service{ID: id, Name: id, Kind: "http", Address: "127.0.0.1", Port: 1}
}

func TestReportDiscoveredAndLost(t *testing.T) {
	ctx := context.Background()
	ev := &events{}
	dir := t.TempDir()
	e, st := newEngine(t, dir, ev)
	steps := []struct {
		name       string
		source     string
		set        []sdk.Service
		err        error
		discovered []string
		lost       []string
		total      int
	}{
		{"first scan finds two", "a", []sdk.Service{svc("x"), svc("y")}, nil, []string{"x", "y"}, nil, 2},
		{"same set is quiet", "a", []sdk.Service{svc("x"), svc("y")}, nil, nil, nil, 2},
		{"second source shares y", "b", []sdk.Service{svc("y")}, nil, nil, nil, 2},
		{"failed scan changes nothing", "a", nil, errors.New("boom"), nil, nil, 2},
		{"y kept while b reports it", "a", []sdk.Service{svc("x")}, nil, nil, nil, 2},
		{"y lost when no source has it", "b", nil, nil, nil, []string{"y"}, 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			rec := e.Report(ctx, s.source, "http", "manual", s.set, s.err)
			if fmt.Sprint(rec.Discovered) != fmt.Sprint(orEmpty(s.discovered)) || fmt.Sprint(rec.Lost) != fmt.Sprint(orEmpty(s.lost)) {
				t.Fatalf("discovered %v lost %v", rec.Discovered, rec.Lost)
			}
			if e.Count() != s.total {
				t.Fatalf("count = %d, want %d", e.Count(), s.total)
			}
			if (s.err != nil) != (rec.Error != "") {
				t.Fatalf("error = %q", rec.Error)
			}
		})
	}
	want := "[service.discovered:x service.discovered:y service.lost:y]"
	if got := fmt.Sprint(ev.list()); got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	hist, next, err := e.History(3, "")
	if err != nil || len(hist) != 3 || next == "" || hist[0].Source != "b" {
		t.Fatalf("history page 1: %v %q %v", err, next, hist)
	}
	rest, _, err := e.History(10, next)
	if err != nil || len(rest) != 2 {
		t.Fatalf("history page 2 (limit 5 kept): %d %v", len(rest), err)
	}
	st.Close()
	e2, st2 := newEngine(t, dir, &events{})
	defer st2.Close()
	if s, ok := e2.Get("x"); !ok || s.Sources[0] != "a" || s.HealthCheck != "tcp" {
		t.Fatalf("after reopen: %+v %v", s, ok)
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestHealthChecks(t *testing.T) {
	ctx := context.Background()
	var healthy atomic.Bool
	healthy.Store(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(503)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()
	ev := &events{}
	e, st := newEngine(t, t.TempDir(), ev)
	defer st.Close()
	withURL := sdk.Service{ID: "h", Name: "h", Metadata: map[string]any{"health_url": "http://" + addr + "/healthz"}}
	tcpOnly := sdk.Service{ID: "t", Name: "t", Metadata: map[string]any{"tcp_address": addr}}
	closed := sdk.Service{ID: "c", Name: "c", Address: "127.0.0.1", Port: 1}
	e.Report(ctx, "s", "http", "manual", []sdk.Service{withURL, tcpOnly, closed}, nil)
	cases := []struct {
		name    string
		healthy bool
		want    map[string]string
	}{
		{"all up", true, map[string]string{"h": "healthy", "t": "healthy", "c": "unhealthy"}},
		{"health endpoint fails", false, map[string]string{"h": "unhealthy", "t": "healthy", "c": "unhealthy"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			healthy.Store(tc.healthy)
			e.CheckHealth(ctx)
			for id, want := range tc.want {
				s, _ := e.Get(id)
				if s.Health != want {
					t.Fatalf("%s: health %q (%s), want %q", id, s.Health, s.HealthOutput, want)
				}
			}
		})
	}
	if s, _ := e.Get("h"); s.HealthCheck != "http" {
		t.Fatalf("check kind %q", s.HealthCheck)
	}
	want := "[service.discovered:c service.discovered:h service.discovered:t service.healthy:h service.healthy:t service.unhealthy:c service.unhealthy:h]"
	got := ev.list()
	sortStrings(got)
	if fmt.Sprint(got) != want {
		t.Fatalf("events %v\nwant %s", got, want)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestScheduledAndManualScans(t *testing.T) {
	ctx := context.Background()
	e, st := newEngine(t, t.TempDir(), &events{})
	defer st.Close()
	var calls atomic.Int64
	e.SetSources([]Source{{Name: "fast", Protocol: "test", Interval: 20 * time.Millisecond,
		Scanner: ScannerFunc(func(context.Context, sdk.Scope) ([]sdk.Service, error) {
			calls.Add(1)
			return []sdk.Service{svc("s1")}, nil
		})}})
	e.Start(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d scheduled scans", calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	recs, err := e.Scan(ctx, "fast", "manual")
	if err != nil || len(recs) != 1 || recs[0].Trigger != "manual" || recs[0].Found != 1 {
		t.Fatalf("manual scan: %v %+v", err, recs)
	}
	if _, err := e.Scan(ctx, "nope", "manual"); !errors.Is(err, ErrUnknownSource) {
		t.Fatalf("unknown source: %v", err)
	}
	e.Stop()
	n := calls.Load()
	time.Sleep(60 * time.Millisecond)
	if calls.Load() != n {
		t.Fatal("scans continue after Stop")
	}
}

func TestRemovedSourceLosesItsServices(t *testing.T) {
	ctx := context.Background()
	ev := &events{}
	e, st := newEngine(t, t.TempDir(), ev)
	defer st.Close()
	fixed := func(ids ...string) Scanner {
		return ScannerFunc(func(context.Context, sdk.Scope) ([]sdk.Service, error) {
			var out []sdk.Service
			for _, id := range ids {
				out = append(out, svc(id))
			}
			return out, nil
		})
	}
	e.SetSources([]Source{{Name: "a", Scanner: fixed("x", "shared")}, {Name: "b", Scanner: fixed("shared")}})
	if _, err := e.Scan(ctx, "", "manual"); err != nil {
		t.Fatal(err)
	}
	e.SetSources([]Source{{Name: "b", Scanner: fixed("shared")}})
	if _, ok := e.Get("x"); ok {
		t.Fatal("x kept after its only source was removed")
	}
	if s, ok := e.Get("shared"); !ok || fmt.Sprint(s.Sources) != "[b]" {
		t.Fatalf("shared: %+v %v", s, ok)
	}
}
