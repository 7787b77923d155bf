package sdk

import (
	"context"
	"strings"
	"sync"
)

// Severity of a diagnostic.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Diagnostic is a message about a call or a configuration, optionally tied
// to an attribute path ("url", "inputs.headers").
type Diagnostic struct {
	Severity  Severity `json:"severity"`
	Summary   string   `json:"summary"`
	Detail    string   `json:"detail,omitempty"`
	Attribute string   `json:"attribute,omitempty"`
}

// Diagnostics is a list of diagnostics.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Error joins the error diagnostics into one message ("" when none).
func (ds Diagnostics) Error() string {
	var parts []string
	for _, d := range ds {
		if d.Severity != SeverityError {
			continue
		}
		s := d.Summary
		if d.Attribute != "" {
			s = d.Attribute + ": " + s
		}
		if d.Detail != "" {
			s += ": " + d.Detail
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

type diagKey struct{}

type diagCollector struct {
	mu sync.Mutex
	ds Diagnostics
}

// AddDiagnostic attaches a diagnostic to the result of the current call. It
// works for every component kind; the host receives it alongside the
// result. Outside a call it does nothing.
func AddDiagnostic(ctx context.Context, d Diagnostic) {
	c, _ := ctx.Value(diagKey{}).(*diagCollector)
	if c == nil {
		return
	}
	c.mu.Lock()
	c.ds = append(c.ds, d)
	c.mu.Unlock()
}

// Warn attaches a warning diagnostic to the result of the current call.
func Warn(ctx context.Context, summary, detail string) {
	AddDiagnostic(ctx, Diagnostic{Severity: SeverityWarning, Summary: summary, Detail: detail})
}

func withDiagnostics(ctx context.Context) (context.Context, *diagCollector) {
	c := &diagCollector{}
	return context.WithValue(ctx, diagKey{}, c), c
}

func (c *diagCollector) take() Diagnostics {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ds
}
