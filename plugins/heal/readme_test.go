package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/heady-dev/heady/plugins/internal/readmetest"
	"github.com/heady-dev/heady/sdk"
)

// TestREADME checks the README's examples and attribute tables against the
// manifest, and that every heal block in them uses declared options.
func TestREADME(t *testing.T) {
	m, err := sdk.ManifestOf(Options()...)
	if err != nil {
		t.Fatal(err)
	}
	readmetest.Check(t, "README.md", m)
	for i, src := range readmetest.Blocks(t, "README.md") {
		checkHealBlocks(t, "README.md#hcl"+string(rune('1'+i)), []byte(src), m)
	}
}

// TestDefaultPolicies checks the heal blocks of the default policies.
func TestDefaultPolicies(t *testing.T) {
	m, err := sdk.ManifestOf(Options()...)
	if err != nil {
		t.Fatal(err)
	}
	readmetest.CheckPolicies(t, "../../policies", m)
	files, _ := filepath.Glob("../../policies/*.hcl")
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n += checkHealBlocks(t, f, src, m)
	}
	if n == 0 {
		t.Fatal("the default policies have no heal blocks")
	}
}

// checkHealBlocks checks that every heal "STRATEGY" block names one of this
// plugin's healers and sets only its declared options, with the required
// ones present. It returns the number of heal blocks seen.
func checkHealBlocks(t *testing.T, name string, src []byte, m sdk.Manifest) int {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		t.Errorf("%s does not parse: %s", name, diags.Error())
		return 0
	}
	n := 0
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "check" {
			continue
		}
		for _, hb := range b.Body.Blocks {
			if hb.Type != "heal" || len(hb.Labels) != 1 {
				continue
			}
			n++
			c, ok := m.Component(hb.Labels[0])
			if !ok {
				t.Errorf("%s:%d: heal %q is not a component of heal", name, hb.TypeRange.Start.Line, hb.Labels[0])
				continue
			}
			for an, a := range hb.Body.Attributes {
				if _, ok := c.Inputs.Attribute(an); !ok {
					t.Errorf("%s:%d: heal %q has no option %q", name, a.SrcRange.Start.Line, c.Name, an)
				}
			}
			for _, a := range c.Inputs.Attributes {
				if _, ok := hb.Body.Attributes[a.Name]; a.Required && !ok {
					t.Errorf("%s:%d: heal %q needs %q", name, hb.TypeRange.Start.Line, c.Name, a.Name)
				}
			}
		}
	}
	return n
}
