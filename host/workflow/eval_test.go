package workflow

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestCtyRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   any
		want any
	}{
		{"scalars", map[string]any{"s": "x", "n": 42, "f": 1.5, "b": true, "nil": nil}, map[string]any{"s": "x", "n": 42.0, "f": 1.5, "b": true, "nil": nil}},
		{"nested", map[string]any{"l": []any{1, "two", map[string]any{"k": []any{}}}}, map[string]any{"l": []any{1.0, "two", map[string]any{"k": []any{}}}}},
		{"json number", map[string]any{"n": json.Number("12345678901")}, map[string]any{"n": 12345678901.0}},
		{"typed slices", map[string]any{"ss": []string{"a"}, "ms": map[string]string{"k": "v"}}, map[string]any{"ss": []any{"a"}, "ms": map[string]any{"k": "v"}}},
		{"struct falls back to json", map[string]any{"st": struct {
			A int `json:"a"`
		}{7}}, map[string]any{"st": map[string]any{"a": 7.0}}},
		{"empty", map[string]any{}, map[string]any{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := toCty(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fromCty(v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}
