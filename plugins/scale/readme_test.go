package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/heady-dev/heady/plugins/internal/readmetest"
	"github.com/heady-dev/heady/sdk"
)

// TestREADME parses every hcl example in the README and checks it against
// the manifest, including the attributes of scaling backend blocks.
func TestREADME(t *testing.T) {
	m, err := sdk.ManifestOf(Options()...)
	if err != nil {
		t.Fatal(err)
	}
	readmetest.Check(t, "README.md", m)
	n := 0
	for i, src := range readmetest.Blocks(t, "README.md") {
		n += checkBackends(t, "README.md#hcl"+string(rune('1'+i)), []byte(src), m)
	}
	if n != 3 {
		t.Fatalf("the README shows %d backend blocks, want one per component", n)
	}
}

// TestDefaultPolicies checks that the default policies use only the
// components and inputs this plugin declares.
func TestDefaultPolicies(t *testing.T) {
	m, err := sdk.ManifestOf(Options()...)
	if err != nil {
		t.Fatal(err)
	}
	readmetest.CheckPolicies(t, "../../policies", m)
	files, _ := filepath.Glob("../../policies/*.hcl")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkBackends(t, f, b, m)
	}
}

// checkBackends checks every scaling backend block of src that names one of
// this plugin's components and returns how many it found.
func checkBackends(t *testing.T, name string, src []byte, m sdk.Manifest) int {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		t.Errorf("%s: %s", name, diags.Error())
		return 0
	}
	n := 0
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "scaling" {
			continue
		}
		for _, bb := range b.Body.Blocks {
			if bb.Type != "backend" || len(bb.Labels) != 1 {
				continue
			}
			comp := strings.TrimPrefix(bb.Labels[0], m.Name+".")
			c, ok := m.Component(comp)
			if !ok {
				continue
			}
			n++
			for a := range bb.Body.Attributes {
				if _, ok := c.Inputs.Attribute(a); !ok {
					t.Errorf("%s:%d: backend %s has no attribute %q", name, bb.TypeRange.Start.Line, comp, a)
				}
			}
			for _, a := range c.Inputs.Attributes {
				if _, set := bb.Body.Attributes[a.Name]; a.Required && !set {
					t.Errorf("%s:%d: backend %s lacks required %q", name, bb.TypeRange.Start.Line, comp, a.Name)
				}
			}
		}
	}
	return n
}
