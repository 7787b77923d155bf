package config

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func TestSourceReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.hcl")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const v1 = "workflow \"a\" {\n  step \"s\" { action = \"x.y\" }\n}\n"
	const v2 = "workflow \"b\" {\n  step \"s\" { action = \"x.y\" }\n}\n"
	write(v1)
	s, diags := NewSource(dir, LoadOptions{Env: noEnv})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	first := s.Current()

	tests := []struct {
		name        string
		content     string
		wantChanged bool
		wantErrors  bool
		wantFlow    string
	}{
		{"unchanged set is a no-op", v1, false, false, "a"},
		{"valid change swaps", v2, true, false, "b"},
		{"invalid set keeps the old one", "workflow \"c\" {\n  timeout = \"soon\"\n}\n", false, true, "b"},
		{"back to valid", v1, true, false, "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.content)
			p, changed, diags := s.Reload()
			if changed != tc.wantChanged || diags.HasErrors() != tc.wantErrors {
				t.Fatalf("changed=%v errors=%v (%v)", changed, diags.HasErrors(), diags)
			}
			if p != s.Current() || p.Workflows[0].Name != tc.wantFlow {
				t.Fatalf("current policy has workflow %q, want %q", s.Current().Workflows[0].Name, tc.wantFlow)
			}
		})
	}
	if first.Workflows[0].Name != "a" {
		t.Fatal("an earlier Policy must not be modified by reloads")
	}

	t.Run("watch", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan string, 8)
		done := make(chan error, 1)
		go func() {
			done <- s.Watch(ctx, 50*time.Millisecond, func(p *Policy, changed bool, _ hcl.Diagnostics) {
				if changed {
					got <- p.Workflows[0].Name
				}
			})
		}()
		// The watcher may not be running yet: rewrite until a reload lands.
		deadline := time.After(10 * time.Second)
		for i := 0; ; i++ {
			content := v2
			if i%2 == 1 {
				content = v1
			}
			write(content)
			select {
			case name := <-got:
				if name != "a" && name != "b" {
					t.Fatalf("reloaded %q", name)
				}
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				return
			case <-time.After(500 * time.Millisecond):
			case <-deadline:
				t.Fatal("no reload after file changes")
			}
		}
	})
}

func TestNewSourceInvalid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.hcl"), []byte("nope {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, diags := NewSource(dir, LoadOptions{})
	if s != nil || !diags.HasErrors() {
		t.Fatal("an invalid directory must not give a Source")
	}
}
