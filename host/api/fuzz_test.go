package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/auth"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/host/workflow"
)

// FuzzRequestBodies decodes arbitrary bytes into every JSON body the API
// accepts: never a panic, and every failure is a 400 naming a field.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{`{"name":"ci","role":"operator","ttl":"1h"}`, `{"context":{"a":[1,2,{"b":null}]}}`,
		`{"type":"user.registered","data":{"user_id":"u1"}}`, `{"type":1}`, `[]`, `{"x":`, `{"name":"a"}{}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&TokenRequest{}, &ExecuteRequest{}, &EventRequest{}} {
			err := DecodeJSON(body, v)
			if err == nil {
				continue
			}
			var ae *Error
			if !errors.As(err, &ae) || ae.Status != 400 || ae.Field == "" {
				t.Fatalf("decode %q into %T: %v is not a 400 naming a field", body, v, err)
			}
		}
	})
}

// FuzzEventIngestion posts arbitrary bodies to POST /events on the real
// API with a real engine and in-memory store: the answer is 202 or a 4xx,
// never a 5xx, and a 202 always carries an event id.
func FuzzEventIngestion(f *testing.F) {
	st, err := store.Open("", store.Options{InMemory: true})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	lg, err := audit.Open(ctx, st, audit.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer lg.Close()
	as := auth.New(st, auth.Options{})
	token, _, err := as.Create(ctx, "fuzz", auth.RoleOperator, 0, "test")
	if err != nil {
		f.Fatal(err)
	}
	eng := workflow.New(st, workflow.Options{})
	if err := eng.Start(ctx); err != nil {
		f.Fatal(err)
	}
	defer eng.Stop(ctx)
	s := New(&Services{Auth: as, Audit: lg, Workflows: eng}, Options{})
	for _, b := range []string{`{"type":"user.registered","data":{"user_id":"u1"}}`, `{"type":""}`, `{"type":"a","data":[]}`,
		`{"type":"x.y","data":{"n":1e400}}`, `{}`, `null`, `{"type":"a/b:c-d_e.f"}`} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", Prefix+"/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 202:
			if !bytes.Contains(out, []byte(`"event_id":"`)) {
				t.Fatalf("202 without an event id: %s", out)
			}
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			if !bytes.Contains(out, []byte(`"error":{`)) {
				t.Fatalf("%d without the error shape: %s", resp.StatusCode, out)
			}
		default:
			t.Fatalf("body %q: status %d: %s", body, resp.StatusCode, out)
		}
	})
}
