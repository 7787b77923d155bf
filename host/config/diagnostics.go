package config

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Diagnostic is the JSON form of one diagnostic, for the API and the audit
// trail. Positions are 1-based; File and positions are empty when the
// diagnostic has no source range.
type Diagnostic struct {
	Severity  string `json:"severity"`
	Summary   string `json:"summary"`
	Detail    string `json:"detail,omitempty"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	EndLine   int    `json:"end_line,omitempty"`
	EndColumn int    `json:"end_column,omitempty"`
}

// DiagnosticsJSON converts diagnostics to their JSON form.
func DiagnosticsJSON(diags hcl.Diagnostics) []Diagnostic {
	out := make([]Diagnostic, 0, len(diags))
	for _, d := range diags {
		j := Diagnostic{Severity: severity(d.Severity), Summary: d.Summary, Detail: d.Detail}
		if d.Subject != nil {
			j.File = d.Subject.Filename
			j.Line, j.Column = d.Subject.Start.Line, d.Subject.Start.Column
			j.EndLine, j.EndColumn = d.Subject.End.Line, d.Subject.End.Column
		}
		out = append(out, j)
	}
	return out
}

func severity(s hcl.DiagnosticSeverity) string {
	if s == hcl.DiagWarning {
		return "warning"
	}
	return "error"
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[1;31m"
	ansiYellow = "\x1b[1;33m"
	ansiDim    = "\x1b[2m"
)

// WriteDiagnostics prints diagnostics for people:
//
//	FILE:LINE:COL: error: SUMMARY
//	  DETAIL
//
//	    LINE | source line
//	         |     ^^^^^^
//
// files supplies the sources for snippets (Policy.Files, or the set given to
// LoadFiles); a file not among them is read from disk, so nil works for a
// directory. color adds ANSI colors.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, files []SourceFile, color bool) error {
	sources := make(map[string][]byte, len(files))
	for _, f := range files {
		sources[f.Path] = f.Bytes
	}
	bw := bufio.NewWriter(w)
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	for _, d := range diags {
		sev := severity(d.Severity)
		sevText := paint(ansiRed, sev)
		if d.Severity == hcl.DiagWarning {
			sevText = paint(ansiYellow, sev)
		}
		if d.Subject != nil {
			fmt.Fprintf(bw, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		fmt.Fprintf(bw, "%s: %s\n", sevText, paint(ansiBold, d.Summary))
		if d.Detail != "" {
			for _, line := range strings.Split(strings.TrimRight(d.Detail, "\n"), "\n") {
				fmt.Fprintf(bw, "  %s\n", line)
			}
		}
		if d.Subject != nil {
			src, ok := sources[d.Subject.Filename]
			if !ok {
				if b, err := os.ReadFile(d.Subject.Filename); err == nil {
					src = b
				}
			}
			writeSnippet(bw, src, *d.Subject, paint)
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// writeSnippet prints the first source line of rng with a caret underline.
func writeSnippet(w io.Writer, src []byte, rng hcl.Range, paint func(string, string) string) {
	if len(src) == 0 || rng.Start.Byte > len(src) || rng.Start.Byte < 0 {
		return
	}
	start := rng.Start.Byte
	lineStart := bytes.LastIndexByte(src[:start], '\n') + 1
	lineEnd := len(src)
	if i := bytes.IndexByte(src[start:], '\n'); i >= 0 {
		lineEnd = start + i
	}
	line := strings.TrimRight(string(src[lineStart:lineEnd]), "\r")
	end := rng.End.Byte
	if end > lineStart+len(line) || end < start {
		end = lineStart + len(line)
	}
	// Pad with the same whitespace (tabs stay tabs) so the caret lines up.
	var pad strings.Builder
	for _, r := range string(src[lineStart:start]) {
		if r == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	width := utf8.RuneCount(src[start:end])
	if width < 1 {
		width = 1
	}
	num := fmt.Sprintf("%d", rng.Start.Line)
	gutter := strings.Repeat(" ", len(num))
	fmt.Fprintf(w, "\n  %s | %s\n", paint(ansiDim, num), line)
	fmt.Fprintf(w, "  %s | %s%s\n", gutter, pad.String(), paint(ansiRed, strings.Repeat("^", width)))
}

// ValidateDir loads dir, prints every diagnostic to w and reports whether
// the set is valid (no errors). It backs `heady validate DIR`, which exits
// 0 when valid and 1 otherwise.
func ValidateDir(w io.Writer, dir string, opts LoadOptions, color bool) bool {
	p, diags := Load(dir, opts)
	var files []SourceFile
	if p != nil {
		files = p.Files
	}
	_ = WriteDiagnostics(w, diags, files, color)
	return !diags.HasErrors()
}
