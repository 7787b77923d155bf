// Package readmetest keeps plugin READMEs honest: it parses every ```hcl
// example in a README and checks it against the plugin's manifest, so that
// the documentation cannot drift from the code.
package readmetest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/heady-dev/heady/sdk"
)

var fence = regexp.MustCompile("(?s)```hcl\n(.*?)```")

// Blocks returns the ```hcl blocks of a Markdown file.
func Blocks(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("readmetest: %v", err)
	}
	var out []string
	for _, m := range fence.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// Check parses every ```hcl block of the README at path and checks, for
// the plugin described by m: plugin "NAME" blocks configure only declared
// components with declared attributes; every action "NAME.X" names a
// declared action; and the input block of such a step sets only declared
// inputs. It fails when the README has no hcl example at all.
func Check(t testing.TB, path string, m sdk.Manifest) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("readmetest: %v", err)
	}
	for _, c := range m.Components {
		if !strings.Contains(string(raw), "`"+m.Name+"."+c.Name+"`") {
			t.Errorf("readmetest: %s does not document component `%s.%s`", path, m.Name, c.Name)
		}
		for _, a := range append(append([]sdk.Attribute{}, c.Config.Attributes...), c.Inputs.Attributes...) {
			if !strings.Contains(string(raw), "`"+a.Name+"`") {
				t.Errorf("readmetest: %s does not document attribute `%s` of %s", path, a.Name, c.Name)
			}
		}
	}
	blocks := Blocks(t, path)
	if len(blocks) == 0 {
		t.Fatalf("readmetest: %s has no ```hcl example", path)
	}
	comps := map[string]sdk.ComponentInfo{}
	for _, c := range m.Components {
		comps[c.Name] = c
	}
	for i, src := range blocks {
		name := fmt.Sprintf("%s#hcl%d", path, i+1)
		f, diags := hclsyntax.ParseConfig([]byte(src), name, hcl.InitialPos)
		if diags.HasErrors() {
			t.Errorf("readmetest: %s does not parse: %s", name, diags.Error())
			continue
		}
		walk(t, name, f.Body.(*hclsyntax.Body), m.Name, comps)
	}
}

func walk(t testing.TB, file string, body *hclsyntax.Body, plugin string, comps map[string]sdk.ComponentInfo) {
	t.Helper()
	if a, ok := body.Attributes["action"]; ok {
		if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type().FriendlyName() == "string" {
			act := v.AsString()
			if comp, ok := strings.CutPrefix(act, plugin+"."); ok {
				c, found := comps[comp]
				switch {
				case !found:
					t.Errorf("readmetest: %s:%d: action %q: no component %q", file, a.SrcRange.Start.Line, act, comp)
				case c.Kind != sdk.KindAction:
					t.Errorf("readmetest: %s:%d: %q is a %s, not an action", file, a.SrcRange.Start.Line, act, c.Kind)
				default:
					for _, b := range body.Blocks {
						if b.Type != "input" {
							continue
						}
						for n, ia := range b.Body.Attributes {
							if _, ok := c.Inputs.Attribute(n); !ok {
								t.Errorf("readmetest: %s:%d: %s has no input %q", file, ia.SrcRange.Start.Line, act, n)
							}
						}
					}
				}
			}
		}
	}
	for _, b := range body.Blocks {
		if b.Type == "plugin" && len(b.Labels) == 1 && b.Labels[0] == plugin {
			for _, cb := range b.Body.Blocks {
				if cb.Type != "component" || len(cb.Labels) != 1 {
					continue
				}
				c, ok := comps[cb.Labels[0]]
				if !ok {
					t.Errorf("readmetest: %s:%d: plugin %s has no component %q", file, cb.TypeRange.Start.Line, plugin, cb.Labels[0])
					continue
				}
				for n, ca := range cb.Body.Attributes {
					if _, ok := c.Config.Attribute(n); !ok {
						t.Errorf("readmetest: %s:%d: component %s.%s has no config attribute %q", file, ca.SrcRange.Start.Line, plugin, c.Name, n)
					}
				}
			}
		}
		walk(t, file, b.Body, plugin, comps)
	}
}

// CheckPolicies parses every *.hcl file in dir and checks the uses of the
// plugin described by m the same way Check does for README examples: the
// default policies must only use components and inputs the plugin
// declares.
func CheckPolicies(t testing.TB, dir string, m sdk.Manifest) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("readmetest: no policy files in %s (%v)", dir, err)
	}
	comps := map[string]sdk.ComponentInfo{}
	for _, c := range m.Components {
		comps[c.Name] = c
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("readmetest: %v", err)
		}
		hf, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
		if diags.HasErrors() {
			t.Errorf("readmetest: %s does not parse: %s", f, diags.Error())
			continue
		}
		walk(t, f, hf.Body.(*hclsyntax.Body), m.Name, comps)
	}
}

// CheckUses checks the blocks of src where a policy configures one of m's
// components in use: every `inner "LABEL"` block inside an `outer` block
// (heal blocks in checks, backend blocks in scaling) whose label names a
// component of m must set only that component's declared inputs and all of
// its required ones. It returns how many such blocks it saw.
func CheckUses(t testing.TB, name string, src []byte, m sdk.Manifest, outer, inner string) int {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		t.Errorf("%s does not parse: %s", name, diags.Error())
		return 0
	}
	n := 0
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != outer {
			continue
		}
		for _, ib := range b.Body.Blocks {
			if ib.Type != inner || len(ib.Labels) != 1 {
				continue
			}
			comp := strings.TrimPrefix(ib.Labels[0], m.Name+".")
			c, ok := m.Component(comp)
			if !ok {
				continue
			}
			n++
			for an, a := range ib.Body.Attributes {
				if _, ok := c.Inputs.Attribute(an); !ok {
					t.Errorf("%s:%d: %s %q has no option %q", name, a.SrcRange.Start.Line, inner, comp, an)
				}
			}
			for _, a := range c.Inputs.Attributes {
				if _, set := ib.Body.Attributes[a.Name]; a.Required && !set {
					t.Errorf("%s:%d: %s %q needs %q", name, ib.TypeRange.Start.Line, inner, comp, a.Name)
				}
			}
		}
	}
	return n
}
