package main

import (
	"os"
	"path/filepath"
	"testing"

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
		readmetest.CheckUses(t, "README.md#hcl"+string(rune('1'+i)), []byte(src), m, "check", "heal")
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
		n += readmetest.CheckUses(t, f, src, m, "check", "heal")
	}
	if n == 0 {
		t.Fatal("the default policies have no heal blocks")
	}
}
