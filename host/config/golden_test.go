package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// readCase reads testdata/diagnostics/NAME/*.hcl as files whose paths are
// relative to testdata, so golden output does not depend on the checkout.
func readCase(t *testing.T, name string) []SourceFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "diagnostics", name, "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	var files []SourceFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel("testdata", p)
		files = append(files, SourceFile{Path: filepath.ToSlash(rel), Bytes: b})
	}
	if len(files) == 0 {
		t.Fatalf("case %s has no files", name)
	}
	return files
}

func TestGoldenDiagnostics(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "diagnostics"))
	if err != nil {
		t.Fatal(err)
	}
	env := func(name string) (string, bool) { return "", false }
	cases := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		cases++
		name := e.Name()
		t.Run(name, func(t *testing.T) {
			files := readCase(t, name)
			p, diags := LoadFiles(files, LoadOptions{Env: env})
			var buf bytes.Buffer
			if err := WriteDiagnostics(&buf, diags, files, false); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "diagnostics", name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("diagnostics differ from %s (run go test -update after checking):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
			if name == "valid" {
				if p == nil || len(diags) != 0 {
					t.Fatalf("valid set: policy %v, diagnostics:\n%s", p != nil, buf.String())
				}
				return
			}
			if p != nil || !diags.HasErrors() {
				t.Fatalf("case %s: expected errors and no policy, got policy=%v errors=%v", name, p != nil, diags.HasErrors())
			}
			// Every diagnostic of a semantic case points into a file.
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a source range: %s", d.Summary)
				}
			}
		})
	}
	if cases < 13 {
		t.Fatalf("only %d golden cases found", cases)
	}
}

// TestGoldenContent pins the key promises of the golden cases, so a careless
// -update cannot silently drop them.
func TestGoldenContent(t *testing.T) {
	tests := []struct {
		name    string
		want    []string
		notWant []string
	}{
		{"typo_attribute", []string{`Did you mean "cron"?`, `Did you mean "action"?`, `Did you mean "description"?`}, nil},
		{"typo_block", []string{`Blocks of type "workflw" are not expected here. Did you mean "workflow"?`, `Did you mean "step"?`, `Blocks of type "health" are not expected here. Did you mean "check"?`}, nil},
		{"wrong_type", []string{`number required, got string`, `list of strings required, got string`, `bool required, got string`}, nil},
		{"bad_duration", []string{`unknown unit "x"`, `ms, s, m, h, d`, `must be a duration string, got number`}, nil},
		{"bad_cron", []string{`Invalid cron expression`, `61`, `@fortnightly`, `Set either cron or every`}, nil},
		{"bad_timezone", []string{`"Mars/Olympus_Mons" is not a known IANA time zone`, `Did you mean "tue"?`, `"HH:MM"`}, nil},
		{"duplicate_workflow", []string{`diagnostics/duplicate_workflow/b.hcl:3:1: error: Duplicate workflow "report"`, `also defined at diagnostics/duplicate_workflow/a.hcl:1`}, nil},
		{"unknown_depends_on", []string{`depends on "fetsh", which is not a step of workflow "w". Did you mean "fetch"?`, `cannot depend on itself`}, nil},
		{"dependency_cycle", []string{`a -> c -> b -> a`, `api -> db -> api`}, nil},
		{"invalid_enum", []string{`must be one of "debug", "info", "warn", "error"`, `Did you mean "all"?`, `Did you mean "transient"?`, `Did you mean "disk"?`, `Invalid trigger kind`}, nil},
		{"syntax_error", []string{`a.hcl`, `b.hcl:2:13: error: Invalid duration`}, []string{`step_timeout`, `Unknown workflow`}},
		{"cross_references", []string{`No workflow named "bakup" is defined. Did you mean "backup"?`, `cannot be triggered by its own completion`, `No webhook block named "gitlab"`, `No service named "ap"`, `No workflow named "optimize"`, `Invalid heal strategy`}, nil},
		{"step_references", []string{`No variable named "missing_url"`, `add "a" to depends_on`, `has no step named "c"`, `cannot refer to its own output`, `There is no variable named "evnt"`, `only available in a step with for_each`, `only available in on_failure`, `cannot refer to step outputs`, `not a valid glob`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join("testdata", "diagnostics", tc.name+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("golden output lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(string(got), w) {
					t.Errorf("golden output should not contain %q", w)
				}
			}
		})
	}
}
