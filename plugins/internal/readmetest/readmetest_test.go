package readmetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heady-dev/heady/sdk"
)

// recorder collects failures instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

type fatal struct{}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(f string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(f, a...))
}
func (r *recorder) Fatalf(f string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(f, a...))
	panic(fatal{})
}

func check(t *testing.T, readme string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(p, []byte(readme), 0o600); err != nil {
		t.Fatal(err)
	}
	m := sdk.Manifest{Name: "demo", Components: []sdk.ComponentInfo{{
		Name: "do", Kind: sdk.KindAction,
		Config: sdk.Schema{Attributes: []sdk.Attribute{{Name: "level", Type: sdk.TypeNumber}}},
		Inputs: sdk.Schema{Attributes: []sdk.Attribute{{Name: "what", Type: sdk.TypeString}}},
	}}}
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil {
				if _, ok := p.(fatal); !ok {
					panic(p)
				}
			}
		}()
		Check(r, p, m)
	}()
	return r.errs
}

func TestCheck(t *testing.T) {
	const docs = "`demo.do` takes `level` and `what`.\n"
	tests := []struct {
		name   string
		readme string
		want   []string // substrings of expected failures, in order
	}{
		{"good", docs + "```hcl\nplugin \"demo\" {\n  component \"do\" {\n    level = 1\n  }\n}\nworkflow \"w\" {\n  step \"s\" {\n    action = \"demo.do\"\n    input {\n      what = \"x\"\n    }\n  }\n}\n```\n", nil},
		{"no example", docs, []string{"no ```hcl example"}},
		{"syntax error", docs + "```hcl\nworkflow \"w\" {\n```\n", []string{"does not parse"}},
		{"unknown component", docs + "```hcl\nstep \"s\" {\n  action = \"demo.undo\"\n}\n```\n", []string{`no component "undo"`}},
		{"unknown input", docs + "```hcl\nstep \"s\" {\n  action = \"demo.do\"\n  input {\n    whom = 1\n  }\n}\n```\n", []string{`no input "whom"`}},
		{"unknown config", docs + "```hcl\nplugin \"demo\" {\n  component \"do\" {\n    lvl = 1\n  }\n}\n```\n", []string{`no config attribute "lvl"`}},
		{"undocumented attribute", "`demo.do` takes `level`.\n```hcl\nx = 1\n```\n", []string{"does not document attribute `what`"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := check(t, tt.readme)
			if len(errs) != len(tt.want) {
				t.Fatalf("failures = %q, want %d", errs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i], w) {
					t.Errorf("failure %d = %q, want it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}
