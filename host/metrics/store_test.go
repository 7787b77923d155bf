package metrics

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/store"
)

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRecordRange(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	now := t0.Add(3 * time.Hour)
	ms, err := Open(ctx, st, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	// Three hours of 10 s samples, value = minute index, in batches.
	var batch []Sample
	for i := 0; i < 3*360; i++ {
		ts := t0.Add(time.Duration(i) * 10 * time.Second)
		batch = append(batch, Sample{Series: "host.cpu", Time: ts, Value: float64(i / 6)})
		if len(batch) == 100 {
			if err := ms.Record(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := ms.Record(ctx, batch); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		from, to  time.Time
		step      time.Duration
		wantN     int
		wantFirst Point
	}{
		{"raw 30s", t0, t0.Add(2 * time.Minute), 30 * time.Second, 4, Point{Time: t0, Value: 0, Min: 0, Max: 0, Count: 3}},
		{"minute roll-ups", t0, t0.Add(time.Hour), 5 * time.Minute, 12, Point{Time: t0, Value: 2, Min: 0, Max: 4, Count: 30}},
		{"hour roll-ups", t0, t0.Add(3 * time.Hour), time.Hour, 3, Point{Time: t0, Value: 29.5, Min: 0, Max: 59, Count: 360}},
		{"whole range", t0, t0.Add(3 * time.Hour), 0, 1, Point{Time: t0, Value: 89.5, Min: 0, Max: 179, Count: 1080}},
		{"unaligned falls back to raw", t0.Add(5 * time.Second), t0.Add(65 * time.Second), time.Minute, 1, Point{Time: t0.Add(5 * time.Second), Value: 1.0 / 6, Min: 0, Max: 1, Count: 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pts, err := ms.Range(ctx, "host.cpu", tt.from, tt.to, tt.step)
			if err != nil {
				t.Fatal(err)
			}
			if len(pts) != tt.wantN {
				t.Fatalf("got %d points, want %d", len(pts), tt.wantN)
			}
			got := pts[0]
			if !got.Time.Equal(tt.wantFirst.Time) || math.Abs(got.Value-tt.wantFirst.Value) > 1e-9 || got.Min != tt.wantFirst.Min || got.Max != tt.wantFirst.Max || got.Count != tt.wantFirst.Count {
				t.Fatalf("first point = %+v, want %+v", got, tt.wantFirst)
			}
		})
	}

	t.Run("unknown series", func(t *testing.T) {
		if _, err := ms.Range(ctx, "nope", t0, now, time.Minute); !errors.Is(err, ErrUnknownSeries) {
			t.Fatalf("err = %v, want ErrUnknownSeries", err)
		}
	})

	t.Run("reopen keeps index, latest and roll-ups", func(t *testing.T) {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		st2 := openStore(t, dir)
		defer st2.Close()
		ms2, err := Open(ctx, st2, Options{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		l, ok := ms2.Latest("host.cpu")
		if !ok || l.Value != 179 || !l.Time.Equal(t0.Add(1079*10*time.Second)) {
			t.Fatalf("latest = %+v %v", l, ok)
		}
		if got := ms2.List(); len(got) != 1 || got[0].Name != "host.cpu" {
			t.Fatalf("list = %+v", got)
		}
		// A sample added after the restart merges into the stored hour roll-up.
		if err := ms2.Record(ctx, []Sample{{Series: "host.cpu", Time: t0.Add(2*time.Hour + 59*time.Minute + 59*time.Second + 500*time.Millisecond), Value: 1000}}); err != nil {
			t.Fatal(err)
		}
		pts, err := ms2.Range(ctx, "host.cpu", t0.Add(2*time.Hour), t0.Add(3*time.Hour), time.Hour)
		if err != nil || len(pts) != 1 || pts[0].Count != 361 || pts[0].Max != 1000 {
			t.Fatalf("hour after restart = %+v, %v", pts, err)
		}
	})
}

func TestRecordValidation(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	ms, err := Open(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    Sample
		want string
	}{
		{"slash in name", Sample{Series: "a/b", Value: 1}, "series"},
		{"empty name", Sample{Series: "", Value: 1}, "series"},
		{"bad label", Sample{Series: "custom.x", Labels: map[string]string{"k": "a b"}, Value: 1}, "label"},
		{"NaN", Sample{Series: "custom.x", Value: math.NaN()}, "finite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ms.Record(ctx, []Sample{{Series: "custom.ok", Value: 1}, tt.s})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if _, ok := ms.Latest("custom.ok"); ok {
				t.Fatal("a batch with an invalid sample wrote something")
			}
		})
	}
	t.Run("labels make their own series", func(t *testing.T) {
		err := ms.Record(ctx, []Sample{{Series: "custom.rps", Labels: map[string]string{"replica": "1"}, Value: 5}, {Series: "custom.rps", Value: 7}})
		if err != nil {
			t.Fatal(err)
		}
		a, okA := ms.Latest("custom.rps{replica=1}")
		b, okB := ms.Latest("custom.rps")
		if !okA || !okB || a.Value != 5 || b.Value != 7 {
			t.Fatalf("latest = %+v %+v", a, b)
		}
	})
}

func TestRetention(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	now := time.Now()
	ms, err := Open(ctx, st, Options{Retention: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	err = ms.Record(ctx, []Sample{
		{Series: "custom.x", Time: now.Add(-2 * time.Hour), Value: 1}, // beyond retention: dropped
		{Series: "custom.x", Time: now.Add(-time.Minute), Value: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	pts, err := ms.Range(ctx, "custom.x", now.Add(-3*time.Hour), now, 0)
	if err != nil || len(pts) != 1 || pts[0].Count != 1 || pts[0].Value != 2 {
		t.Fatalf("range = %+v, %v", pts, err)
	}
	// The stored sample carries a TTL.
	key := sampleKey("custom.x", resRaw, now.Add(-time.Minute).UnixMilli())
	txn := st.DB().NewTransaction(false)
	defer txn.Discard()
	item, err := txn.Get([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	expires := item.ExpiresAt()
	want := now.Add(59 * time.Minute).Unix()
	if d := int64(expires) - want; d < -5 || d > 5 {
		t.Fatalf("sample expires at %d, want about %d", expires, want)
	}
}

func TestCollectorAndRegistry(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	ms, err := Open(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCollector(ms, CollectorOptions{DiskPath: t.TempDir()})
	if err := c.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		c.CountRequest()
	}
	c.CountEvents(3)
	if err := c.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"host.cpu", "host.memory", "host.disk", "host.load1", "api.requests_per_min", "events.per_min"} {
		if _, ok := ms.Latest(s); !ok {
			t.Errorf("no sample of %s", s)
		}
	}
	if l, _ := ms.Latest("api.requests_per_min"); l.Value <= 0 {
		t.Errorf("api.requests_per_min = %v, want > 0 after 30 requests", l.Value)
	}

	r := NewRegistry()
	r.ObserveRequest("GET", "/api/v1/automation/status", 200, time.Millisecond)
	r.CountEvents(2)
	r.ScalingEvaluated("web", "scale_up", true, 3)
	r.AddLabeledFunc("heady_plugin_restarts_total", "Plugin restarts.", "plugin", true, func() map[string]float64 { return map[string]float64{"http": 2} })
	body, ctype, err := r.Text()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ctype, "text/plain") {
		t.Errorf("content type %q", ctype)
	}
	for _, want := range []string{
		`heady_api_requests_total{method="GET",route="/api/v1/automation/status",status="200"} 1`,
		`heady_events_total 2`,
		`heady_scaling_actions_total{direction="up",policy="web"} 1`,
		`heady_scaling_current{policy="web"} 3`,
		`heady_plugin_restarts_total{plugin="http"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics text lacks %q", want)
		}
	}
}

func TestCollectorProcesses(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	ms, err := Open(ctx, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCollector(ms, CollectorOptions{DiskPath: t.TempDir(), Processes: func() []Process {
		return []Process{{Series: "service.web", PID: os.Getpid()}, {Series: "bad/name", PID: os.Getpid()}, {Series: "service.gone", PID: 0}}
	}})
	// The first round primes the CPU counters; the second reports.
	for i := 0; i < 2; i++ {
		if err := c.Collect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if l, ok := ms.Latest("service.web.rss_bytes"); !ok || l.Value <= 0 {
		t.Fatalf("service.web.rss_bytes = %+v, %v", l, ok)
	}
	if _, ok := ms.Latest("service.web.cpu"); !ok {
		t.Fatal("no service.web.cpu sample")
	}
	for _, s := range ms.List() {
		if strings.Contains(s.ID, "gone") || strings.Contains(s.ID, "bad") {
			t.Fatalf("unexpected series %s", s.ID)
		}
	}
}
