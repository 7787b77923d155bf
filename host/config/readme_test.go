package config

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclparse"
)

// hclFences returns the ```hcl blocks of a markdown document with the line
// each starts on.
func hclFences(md []byte) (blocks []string, lines []int) {
	var cur *strings.Builder
	start := 0
	for i, line := range strings.Split(string(md), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```hcl"):
			cur = &strings.Builder{}
			start = i + 2
		case cur != nil && strings.HasPrefix(trimmed, "```"):
			blocks = append(blocks, cur.String())
			lines = append(lines, start)
			cur = nil
		case cur != nil:
			cur.WriteString(line)
			cur.WriteByte('\n')
		}
	}
	return blocks, lines
}

func TestHCLFences(t *testing.T) {
	md := "# x\n```hcl\na = 1\n```\ntext\n```go\nno\n```\n  ```hcl\nb {}\n  ```\n"
	blocks, lines := hclFences([]byte(md))
	if len(blocks) != 2 || blocks[0] != "a = 1\n" || blocks[1] != "b {}\n" || lines[0] != 3 || lines[1] != 10 {
		t.Fatalf("got %q %v", blocks, lines)
	}
}

// TestReadmeExamples parses every ```hcl example in the READMEs under
// plugins/ and examples/, so documentation cannot drift from the language:
// each must be valid HCL and use only known top-level blocks.
func TestReadmeExamples(t *testing.T) {
	var readmes []string
	for _, root := range []string{filepath.Join("..", "..", "plugins"), filepath.Join("..", "..", "examples"), filepath.Join("..", "..", "policies")} {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() == "README.md" {
				readmes = append(readmes, path)
			}
			return nil
		})
	}
	found := 0
	for _, readme := range readmes {
		md, err := os.ReadFile(readme)
		if err != nil {
			t.Fatal(err)
		}
		blocks, lines := hclFences(md)
		for i, src := range blocks {
			found++
			name := fmt.Sprintf("%s:%d", filepath.ToSlash(readme), lines[i])
			t.Run(name, func(t *testing.T) {
				parser := hclparse.NewParser()
				f, diags := parser.ParseHCL([]byte(src), name)
				if !diags.HasErrors() {
					_, more := f.Body.Content(topSchema)
					diags = append(diags, more...)
				}
				if diags.HasErrors() {
					var buf bytes.Buffer
					_ = WriteDiagnostics(&buf, diags, []SourceFile{{Path: name, Bytes: []byte(src)}}, false)
					t.Fatalf("example does not parse:\n%s", buf.String())
				}
			})
		}
	}
	if found == 0 {
		t.Skip("no ```hcl examples in plugins/ or examples/ READMEs yet")
	}
}

// TestPolicyReadme loads the examples of policies/README.md together with
// the default policies as one set: the language reference must be valid,
// not merely parse.
func TestPolicyReadme(t *testing.T) {
	dir := filepath.Join("..", "..", "policies")
	md, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
	var files []SourceFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, SourceFile{Path: p, Bytes: b})
	}
	blocks, lines := hclFences(md)
	if len(blocks) < 5 {
		t.Fatalf("policies/README.md has %d hcl examples, want the reference", len(blocks))
	}
	for i, src := range blocks {
		files = append(files, SourceFile{Path: fmt.Sprintf("README.md:%d", lines[i]), Bytes: []byte(src)})
	}
	env := func(string) (string, bool) { return "set", true }
	p, diags := LoadFiles(files, LoadOptions{Env: env})
	if diags.HasErrors() || p == nil {
		var buf bytes.Buffer
		_ = WriteDiagnostics(&buf, diags, files, false)
		t.Fatalf("README examples do not load:\n%s", buf.String())
	}
}
