package pluginhost

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/sdk"
)

var testSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "url", Type: sdk.TypeString, Required: true, Description: "Where."},
	{Name: "timeout", Type: sdk.TypeDuration, Default: "30s", Description: "How long."},
	{Name: "retries", Type: sdk.TypeNumber, Default: 3, Description: "How often."},
	{Name: "verbose", Type: sdk.TypeBool, Description: "Chatty."},
	{Name: "hosts", Type: sdk.TypeStringList, Description: "Hosts."},
	{Name: "ports", Type: sdk.TypeNumberList, Description: "Ports."},
	{Name: "headers", Type: sdk.TypeStringMap, Description: "Headers."},
	{Name: "extra", Type: sdk.TypeAny, Description: "Anything."},
}}

func parseBody(t *testing.T, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "policy.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags)
	}
	return f.Body
}

func diagPos(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
}

func TestDecodeConfig(t *testing.T) {
	tests := []struct {
		name string
		src  string
		ectx *hcl.EvalContext
		want map[string]any
		// wantDiags are "POS|substring" of each expected error, in order.
		wantDiags []string
	}{
		{
			name: "defaults applied",
			src:  `url = "http://127.0.0.1"`,
			want: map[string]any{"url": "http://127.0.0.1", "timeout": "30s", "retries": 3.0},
		},
		{
			name: "all types",
			src: `url = "u"
timeout = "5m"
retries = 7
verbose = true
hosts = ["a", "b"]
ports = [80, 443]
headers = { X-A = "1" }
extra = { nested = [1, "x"] }
`,
			want: map[string]any{
				"url": "u", "timeout": "5m", "retries": 7.0, "verbose": true,
				"hosts": []any{"a", "b"}, "ports": []any{80.0, 443.0},
				"headers": map[string]any{"X-A": "1"},
				"extra":   map[string]any{"nested": []any{1.0, "x"}},
			},
		},
		{
			name: "variables",
			src:  `url = var.base`,
			ectx: &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{"base": cty.StringVal("http://x")})}},
			want: map[string]any{"url": "http://x", "timeout": "30s", "retries": 3.0},
		},
		{
			name:      "typo with suggestion",
			src:       "url = \"u\"\n  timout = \"5s\"\n",
			wantDiags: []string{`policy.hcl:2:3|Unsupported argument|Did you mean "timeout"?`},
		},
		{
			name:      "unknown attribute lists expected",
			src:       "url = \"u\"\nzzzzzzzz = 1\n",
			wantDiags: []string{`policy.hcl:2:1|Unsupported argument|Expected one of: url, timeout`},
		},
		{
			name:      "missing required",
			src:       "retries = 1\n",
			wantDiags: []string{`policy.hcl:1:1|Missing required argument|"url" is required`},
		},
		{
			name:      "wrong type",
			src:       "url = \"u\"\nretries = \"many\"\n",
			wantDiags: []string{`policy.hcl:2:11|Incorrect attribute value type|"retries": number required`},
		},
		{
			name:      "bad duration",
			src:       "url = \"u\"\ntimeout = \"soon\"\n",
			wantDiags: []string{`policy.hcl:2:11|Incorrect attribute value type|"soon" is not a duration`},
		},
		{
			name:      "list element type",
			src:       "url = \"u\"\nports = [\"http\"]\n",
			wantDiags: []string{`policy.hcl:2:9|Incorrect attribute value type|list(number) required`},
		},
		{
			name: "every problem reported",
			src:  "urll = \"u\"\nretries = true\n",
			wantDiags: []string{
				`policy.hcl:2:11|Incorrect attribute value type|number required`,
				`policy.hcl:1:1|Unsupported argument|Did you mean "url"?`,
				`policy.hcl:1:1|Missing required argument|"url"`,
			},
		},
		{
			name:      "undefined variable",
			src:       "url = var.nope\n",
			wantDiags: []string{`policy.hcl:1:7|Variables not allowed`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := DecodeConfig(parseBody(t, tt.src), testSchema, tt.ectx)
			var errs hcl.Diagnostics
			for _, d := range diags {
				if d.Severity == hcl.DiagError {
					errs = append(errs, d)
				}
			}
			if len(errs) != len(tt.wantDiags) {
				t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(tt.wantDiags), errs)
			}
			for i, w := range tt.wantDiags {
				parts := strings.Split(w, "|")
				d := errs[i]
				if pos := diagPos(d); pos != parts[0] {
					t.Errorf("diag %d at %s, want %s (%s)", i, pos, parts[0], d)
				}
				text := d.Summary + ": " + d.Detail
				for _, sub := range parts[1:] {
					if !strings.Contains(text, sub) {
						t.Errorf("diag %d = %q, want it to contain %q", i, text, sub)
					}
				}
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("config = %#v\nwant     %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeConfigNilBody(t *testing.T) {
	s := sdk.Schema{Attributes: []sdk.Attribute{{Name: "a", Type: sdk.TypeString, Default: "x"}}}
	got, diags := DecodeConfig(nil, s, nil)
	if diags.HasErrors() || got["a"] != "x" {
		t.Fatalf("got %v, %s", got, diags)
	}
}

// parsePlugins decodes plugin blocks the way the policy loader does, for
// tests only.
func parsePlugins(t *testing.T, src string) []*config.Plugin {
	t.Helper()
	return parsePluginsFile(t, "policy.hcl", src)
}

func parsePluginsFile(t *testing.T, filename, src string) []*config.Plugin {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), filename, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags)
	}
	body := f.Body
	content, _, diags := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "plugin", LabelNames: []string{"name"}}}})
	if diags.HasErrors() {
		t.Fatalf("plugins: %s", diags)
	}
	var out []*config.Plugin
	for _, b := range content.Blocks {
		p := &config.Plugin{Name: b.Labels[0], Enabled: true, DeclRange: b.DefRange}
		inner, _ := b.Body.Content(&hcl.BodySchema{
			Attributes: []hcl.AttributeSchema{{Name: "path"}, {Name: "sha256"}, {Name: "enabled"}},
			Blocks:     []hcl.BlockHeaderSchema{{Type: "component", LabelNames: []string{"name"}}},
		})
		for name, a := range inner.Attributes {
			v, ds := a.Expr.Value(nil)
			if ds.HasErrors() {
				t.Fatalf("plugin %s: %s", name, ds)
			}
			switch name {
			case "path":
				p.Path = v.AsString()
			case "sha256":
				p.SHA256 = v.AsString()
			case "enabled":
				p.Enabled = v.True()
			}
		}
		for _, cb := range inner.Blocks {
			p.Components = append(p.Components, &config.PluginComponent{Name: cb.Labels[0], Body: cb.Body, DeclRange: cb.DefRange})
		}
		out = append(out, p)
	}
	return out
}
