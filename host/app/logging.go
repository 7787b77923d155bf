package app

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	o := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// parseVars turns NAME=VALUE overrides into cty values: VALUE is an HCL
// literal when it parses as one (numbers, true, lists), a string otherwise.
func parseVars(in map[string]string) (map[string]cty.Value, hcl.Diagnostics) {
	out := map[string]cty.Value{}
	var diags hcl.Diagnostics
	for k, v := range in {
		if !hclsyntax.ValidIdentifier(k) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid variable name",
				Detail: fmt.Sprintf("%q is not a valid variable name (letters, digits, _ and -)", k)})
			continue
		}
		expr, d := hclsyntax.ParseExpression([]byte(v), "var:"+k, hcl.InitialPos)
		if !d.HasErrors() {
			if val, d2 := expr.Value(nil); !d2.HasErrors() {
				out[k] = val
				continue
			}
		}
		out[k] = cty.StringVal(v)
	}
	return out, diags
}
