package api

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// TestOpenAPICoversEveryRoute keeps the OpenAPI document true: every route
// registered in Fiber has an operation in the document, and vice versa.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s := New(&Services{}, Options{})
	doc := s.OpenAPI()
	paths := doc["paths"].(map[string]any)
	param := regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)
	registered := map[string]bool{}
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Path == "/" || r.Path == "" || strings.HasSuffix(r.Path, "*") {
			continue
		}
		p := param.ReplaceAllString(r.Path, "{$1}")
		key := strings.ToLower(r.Method) + " " + p
		registered[key] = true
		item, ok := paths[p].(map[string]any)
		if !ok {
			t.Errorf("route %s %s is not in the OpenAPI document", r.Method, r.Path)
			continue
		}
		if _, ok := item[strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s has no %s operation in the OpenAPI document", r.Method, r.Path, r.Method)
		}
	}
	for p, item := range paths {
		for m := range item.(map[string]any) {
			if !registered[m+" "+p] {
				t.Errorf("OpenAPI documents %s %s, which is not registered", m, p)
			}
		}
	}
	for _, must := range []string{"/api/v1/automation/status", "/api/v1/automation/health", "/api/v1/automation/audit/logs",
		"/api/v1/automation/audit/trail/{type}/{id}", "/api/v1/automation/reload", "/api/v1/automation/policies"} {
		if _, ok := paths[must]; !ok {
			t.Errorf("%s missing from the document", must)
		}
	}
}

func TestDecodeJSONNamesTheField(t *testing.T) {
	type body struct {
		Name    string         `json:"name"`
		Count   int            `json:"count"`
		Context map[string]any `json:"context"`
	}
	cases := []struct {
		name, in, field string
	}{
		{"valid", `{"name":"a","count":2,"context":{"x":1}}`, ""},
		{"wrong type for string", `{"name":5}`, "name"},
		{"wrong type for number", `{"count":"two"}`, "count"},
		{"object expected", `{"context":[1]}`, "context"},
		{"unknown field", `{"nme":"a"}`, "nme"},
		{"syntax error", `{"name":}`, "body"},
		{"truncated", `{"name":"a"`, "body"},
		{"trailing data", `{"name":"a"} {}`, "body"},
		{"not an object", `[1,2]`, "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b body
			err := DecodeJSON([]byte(tc.in), &b)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an API error", err)
			}
			if ae.Status != 400 || ae.Field != tc.field {
				t.Fatalf("got status %d field %q (%s), want 400 naming %q", ae.Status, ae.Field, ae.Message, tc.field)
			}
		})
	}
}
