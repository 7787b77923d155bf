package healing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/store"
)

// BenchmarkCheckRun measures one run of a check (probe, flap protection,
// state update) through the engine; the Raw variants do the bare probe
// work (an HTTP GET, a store write and read) as the same-run baseline.
func BenchmarkCheckRun(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	e := New(Options{Store: st})
	defer e.Stop(context.Background())
	e.Apply(context.Background(), []*config.Check{
		{Name: "http", Type: "http", URL: srv.URL, Interval: time.Hour, Timeout: 5 * time.Second, FailuresBeforeUnhealthy: 3, SuccessesBeforeHealthy: 1},
		{Name: "store", Type: "store", Interval: time.Hour, Timeout: 5 * time.Second, FailuresBeforeUnhealthy: 3, SuccessesBeforeHealthy: 1},
	})
	ctx := context.Background()
	for _, name := range []string{"http", "store"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if ci, err := e.RunCheck(ctx, name); err != nil || ci.State.Status != StatusHealthy {
					b.Fatalf("%+v %v", ci.State, err)
				}
			}
		})
	}
	b.Run("raw_http", func(b *testing.B) {
		c := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		for b.Loop() {
			resp, err := c.Get(srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("raw_store", func(b *testing.B) {
		for b.Loop() {
			if err := st.Apply(ctx, store.Put(store.SpaceHealth+"raw", []byte("x"))); err != nil {
				b.Fatal(err)
			}
			if _, err := st.Get(store.SpaceHealth + "raw"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
