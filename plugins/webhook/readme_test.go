package main

import (
	"testing"

	"github.com/heady-dev/heady/plugins/internal/readmetest"
	"github.com/heady-dev/heady/sdk"
)

// TestREADME parses every hcl example in the README and checks it, and the
// README's attribute tables, against the manifest.
func TestREADME(t *testing.T) {
	m, err := sdk.ManifestOf(Options()...)
	if err != nil {
		t.Fatal(err)
	}
	readmetest.Check(t, "README.md", m)
}

// TestDefaultPolicies checks that the default policies use only the
// components and inputs this plugin declares.
func TestDefaultPolicies(t *testing.T) {
	m, err := sdk.ManifestOf(Options()...)
	if err != nil {
		t.Fatal(err)
	}
	readmetest.CheckPolicies(t, "../../policies", m)
}
