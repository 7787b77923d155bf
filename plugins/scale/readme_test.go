package main

import (
	"os"
	"path/filepath"
	"testing"

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
		n += readmetest.CheckUses(t, "README.md#hcl"+string(rune('1'+i)), []byte(src), m, "scaling", "backend")
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
		readmetest.CheckUses(t, f, b, m, "scaling", "backend")
	}
}
