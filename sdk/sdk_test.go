package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/sdk"
)

// TestNoHostImports enforces that the sdk is a leaf: nothing under sdk/
// depends on the host.
func TestNoHostImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/heady-dev/heady/sdk/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("suspiciously few dependencies: %v", deps)
	}
	for _, d := range deps {
		if d == "github.com/heady-dev/heady/host" || strings.HasPrefix(d, "github.com/heady-dev/heady/host/") {
			t.Errorf("sdk depends on %s", d)
		}
	}
}

func TestCheckCompatible(t *testing.T) {
	tests := []struct {
		name, host, plugin string
		ok                 bool
	}{
		{"same", "1.0.0", "1.0.0", true},
		{"newer minor", "1.0.0", "1.4.2", true},
		{"v prefix and prerelease", "v1.2.0", "1.0.0-rc.1+build", true},
		{"major differs", "1.0.0", "2.0.0", false},
		{"older major", "2.1.0", "1.9.9", false},
		{"not semver", "1.0.0", "1.0", false},
		{"empty", "1.0.0", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sdk.CheckCompatible(tt.host, tt.plugin)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckCompatible(%q, %q) = %v, want ok=%v", tt.host, tt.plugin, err, tt.ok)
			}
		})
	}
}

func TestSchemaValidate(t *testing.T) {
	tests := []struct {
		name    string
		attrs   []sdk.Attribute
		wantErr string
	}{
		{"empty", nil, ""},
		{"all types", []sdk.Attribute{
			{Name: "s", Type: sdk.TypeString, Default: "x"},
			{Name: "n", Type: sdk.TypeNumber, Default: 3},
			{Name: "b", Type: sdk.TypeBool, Default: true},
			{Name: "d", Type: sdk.TypeDuration, Default: "5s"},
			{Name: "ls", Type: sdk.TypeStringList, Default: []string{"a"}},
			{Name: "ln", Type: sdk.TypeNumberList, Default: []int{1, 2}},
			{Name: "m", Type: sdk.TypeStringMap, Default: map[string]string{"k": "v"}},
			{Name: "a", Type: sdk.TypeAny, Default: map[string]any{"x": 1}},
			{Name: "r", Type: sdk.TypeString, Required: true},
		}, ""},
		{"bad name", []sdk.Attribute{{Name: "two words", Type: sdk.TypeString}}, "not an identifier"},
		{"duplicate", []sdk.Attribute{{Name: "a", Type: sdk.TypeString}, {Name: "a", Type: sdk.TypeBool}}, "declared twice"},
		{"unknown type", []sdk.Attribute{{Name: "a", Type: "int"}}, "unknown type"},
		{"required with default", []sdk.Attribute{{Name: "a", Type: sdk.TypeString, Required: true, Default: "x"}}, "cannot have a default"},
		{"default type", []sdk.Attribute{{Name: "a", Type: sdk.TypeNumber, Default: "3"}}, "want number, got a string"},
		{"default duration", []sdk.Attribute{{Name: "a", Type: sdk.TypeDuration, Default: "soon"}}, "not a duration"},
		{"default list element", []sdk.Attribute{{Name: "a", Type: sdk.TypeStringList, Default: []any{"x", 1}}}, "element 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sdk.Schema{Attributes: tt.attrs}.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestApplyDefaults(t *testing.T) {
	s := sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "url", Type: sdk.TypeString, Required: true},
		{Name: "timeout", Type: sdk.TypeDuration, Default: 5 * time.Second},
		{Name: "retries", Type: sdk.TypeNumber, Default: 3},
		{Name: "tags", Type: sdk.TypeStringList},
	}}
	tests := []struct {
		name      string
		in        map[string]any
		want      map[string]any
		wantDiags []string
	}{
		{"defaults", map[string]any{"url": "u"}, map[string]any{"url": "u", "timeout": "5s", "retries": 3.0}, nil},
		{"values normalised", map[string]any{"url": "u", "retries": 7, "tags": []string{"a"}}, map[string]any{"url": "u", "timeout": "5s", "retries": 7.0, "tags": []any{"a"}}, nil},
		{"missing required", map[string]any{}, nil, []string{"url: missing required attribute"}},
		{"unknown", map[string]any{"url": "u", "urll": 1}, nil, []string{"urll: unsupported attribute"}},
		{"wrong type", map[string]any{"url": true}, nil, []string{"url: invalid value: want string, got a bool"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := s.ApplyDefaults(tt.in)
			if len(diags) != len(tt.wantDiags) {
				t.Fatalf("diags = %v, want %v", diags, tt.wantDiags)
			}
			for i, w := range tt.wantDiags {
				if !strings.HasPrefix(sdk.Diagnostics{diags[i]}.Error(), w) {
					t.Errorf("diag %d = %q, want prefix %q", i, sdk.Diagnostics{diags[i]}.Error(), w)
				}
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestConfigGetters(t *testing.T) {
	c := sdk.Config{
		"s": "x", "n": 2.5, "i": 3, "b": true, "d": "1m30s",
		"ls": []any{"a", "b"}, "ln": []any{1.0, 2.0}, "m": map[string]any{"k": "v"},
	}
	if c.String("s") != "x" || c.Number("n") != 2.5 || c.Int("i") != 3 || !c.Bool("b") || c.Duration("d") != 90*time.Second {
		t.Fatalf("scalars: %q %v %v %v %v", c.String("s"), c.Number("n"), c.Int("i"), c.Bool("b"), c.Duration("d"))
	}
	if !reflect.DeepEqual(c.Strings("ls"), []string{"a", "b"}) || !reflect.DeepEqual(c.Numbers("ln"), []float64{1, 2}) || c.StringMap("m")["k"] != "v" {
		t.Fatalf("collections: %v %v %v", c.Strings("ls"), c.Numbers("ln"), c.StringMap("m"))
	}
	if c.String("missing") != "" || c.String("n") != "" || c.Has("missing") || !c.Has("s") {
		t.Fatal("absent or mistyped attributes must read as zero values")
	}
}

func TestAsError(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name      string
		err       error
		code      string
		retryable bool
	}{
		{"plain", base, sdk.CodeError, true},
		{"retryable", sdk.Retryable(base), sdk.CodeError, true},
		{"permanent", sdk.Permanent(base), sdk.CodePermanent, false},
		{"wrapped permanent", fmt.Errorf("step: %w", sdk.Permanent(base)), sdk.CodePermanent, false},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), sdk.CodeTimeout, true},
		{"canceled", context.Canceled, sdk.CodeCanceled, true},
		{"custom", sdk.NewError("rate_limited", true, "slow down"), "rate_limited", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := sdk.AsError(tt.err)
			if e.Code != tt.code || e.Retryable != tt.retryable {
				t.Fatalf("AsError = %+v, want %s retryable=%v", e, tt.code, tt.retryable)
			}
		})
	}
	if sdk.AsError(nil) != nil || sdk.Retryable(nil) != nil || sdk.Permanent(nil) != nil {
		t.Fatal("nil must stay nil")
	}
	if !errors.Is(sdk.Permanent(base), base) {
		t.Fatal("Permanent must wrap its cause")
	}
}

type nopAction struct{}

func (nopAction) Configure(context.Context, map[string]any) error { return nil }
func (nopAction) Close(context.Context) error                     { return nil }
func (nopAction) Run(context.Context, sdk.ActionRequest) (sdk.ActionResponse, error) {
	return sdk.ActionResponse{}, nil
}

func TestManifestOf(t *testing.T) {
	spec := sdk.Spec{Name: "run", Description: "Runs."}
	factory := func() sdk.Action { return nopAction{} }
	tests := []struct {
		name    string
		opts    []sdk.Option
		wantErr string
	}{
		{"ok", []sdk.Option{sdk.WithName("x"), sdk.WithVersion("1.0.0"), sdk.WithAction(spec, factory)}, ""},
		{"no name", []sdk.Option{sdk.WithVersion("1.0.0"), sdk.WithAction(spec, factory)}, "plugin name"},
		{"bad version", []sdk.Option{sdk.WithName("x"), sdk.WithVersion("one"), sdk.WithAction(spec, factory)}, "version"},
		{"no components", []sdk.Option{sdk.WithName("x"), sdk.WithVersion("1.0.0")}, "serves no components"},
		{"duplicate", []sdk.Option{sdk.WithName("x"), sdk.WithVersion("1.0.0"), sdk.WithAction(spec, factory), sdk.WithAction(spec, factory)}, "duplicate component"},
		{"bad schema", []sdk.Option{sdk.WithName("x"), sdk.WithVersion("1.0.0"), sdk.WithAction(sdk.Spec{Name: "run", Config: sdk.Schema{Attributes: []sdk.Attribute{{Name: "a", Type: "text"}}}}, factory)}, "unknown type"},
		{"nil factory", []sdk.Option{sdk.WithName("x"), sdk.WithVersion("1.0.0"), sdk.WithAction(spec, nil)}, "nil factory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := sdk.ManifestOf(tt.opts...)
			if tt.wantErr == "" {
				if err != nil || m.SDKVersion != sdk.Version || m.ProtocolVersion != sdk.ProtocolVersion || m.Components[0].Kind != sdk.KindAction {
					t.Fatalf("ManifestOf = %+v, %v", m, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
