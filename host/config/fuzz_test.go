package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader and the diagnostics printer:
// neither may panic, and an invalid set never yields a Policy.
func FuzzLoad(f *testing.F) {
	policies, _ := filepath.Glob(filepath.Join("..", "..", "policies", "*.hcl"))
	cases, _ := filepath.Glob(filepath.Join("testdata", "diagnostics", "*", "*.hcl"))
	for _, p := range append(policies, cases...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	env := func(string) (string, bool) { return "", false }
	f.Fuzz(func(t *testing.T, data []byte) {
		files := []SourceFile{{Path: "fuzz.hcl", Bytes: data}}
		p, diags := LoadFiles(files, LoadOptions{Env: env})
		if diags.HasErrors() && p != nil {
			t.Fatal("a set with errors returned a Policy")
		}
		if !diags.HasErrors() && p == nil {
			t.Fatal("a valid set returned no Policy")
		}
		_ = WriteDiagnostics(io.Discard, diags, files, true)
		_ = DiagnosticsJSON(diags)
		if p != nil {
			_ = p.Objects()
		}
	})
}
