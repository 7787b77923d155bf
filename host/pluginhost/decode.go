package pluginhost

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/heady-dev/heady/sdk"
)

// DecodeConfig decodes a component's HCL body against its schema into a
// configuration map with defaults applied. It reports every problem with
// its source range: unknown attributes (with a did-you-mean suggestion),
// missing required attributes, nested blocks, and values of the wrong type.
// A nil body decodes as an empty one.
func DecodeConfig(body hcl.Body, schema sdk.Schema, ectx *hcl.EvalContext) (map[string]any, hcl.Diagnostics) {
	out := map[string]any{}
	var diags hcl.Diagnostics
	var attrs hcl.Attributes
	missing := hcl.Range{}
	if body != nil {
		var ds hcl.Diagnostics
		attrs, ds = body.JustAttributes()
		diags = append(diags, ds...)
		missing = body.MissingItemRange()
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names) // stable diagnostics order
	known := make([]string, 0, len(schema.Attributes))
	for _, a := range schema.Attributes {
		known = append(known, a.Name)
	}
	for _, n := range names {
		attr := attrs[n]
		sa, ok := schema.Attribute(n)
		if !ok {
			detail := fmt.Sprintf("An argument named %q is not expected here.", n)
			if s := nameSuggestion(n, known); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			} else if len(known) > 0 {
				detail += " Expected one of: " + strings.Join(known, ", ") + "."
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported argument",
				Detail:   detail,
				Subject:  attr.NameRange.Ptr(),
			})
			continue
		}
		val, ds := attr.Expr.Value(ectx)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		v, err := ctyToSchema(sa.Type, val)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity:    hcl.DiagError,
				Summary:     "Incorrect attribute value type",
				Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s.", n, err),
				Subject:     attr.Expr.Range().Ptr(),
				Expression:  attr.Expr,
				EvalContext: ectx,
			})
			continue
		}
		if v == nil {
			continue // null: as if absent
		}
		out[n] = v
	}
	for _, a := range schema.Attributes {
		if _, ok := out[a.Name]; ok {
			continue
		}
		if attr, present := attrs[a.Name]; present {
			// present but invalid (already reported) or null
			if a.Required {
				if v, _ := attr.Expr.Value(ectx); v.IsKnown() && v.IsNull() {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Missing required argument",
						Detail:   fmt.Sprintf("The argument %q is required, but it is null.", a.Name),
						Subject:  attr.Expr.Range().Ptr(),
					})
				}
			}
			continue
		}
		if a.Required {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required argument",
				Detail:   fmt.Sprintf("The argument %q is required, but no definition was found.", a.Name),
				Subject:  missing.Ptr(),
			})
			continue
		}
		if a.Default != nil {
			if v, err := sdk.CoerceValue(a.Type, a.Default); err == nil {
				out[a.Name] = v
			}
		}
	}
	return out, diags
}

// nameSuggestion returns the known name closest to given, if close enough.
func nameSuggestion(given string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := levenshtein.Distance(given, k, nil); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// ctyToSchema converts an HCL value to the JSON form of an attribute type.
// A null value returns (nil, nil).
func ctyToSchema(typ string, v cty.Value) (any, error) {
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("the value must be known when the policy is loaded")
	}
	if v.IsNull() {
		return nil, nil
	}
	var want cty.Type
	switch typ {
	case sdk.TypeString, sdk.TypeDuration:
		want = cty.String
	case sdk.TypeNumber:
		want = cty.Number
	case sdk.TypeBool:
		want = cty.Bool
	case sdk.TypeStringList:
		want = cty.List(cty.String)
	case sdk.TypeNumberList:
		want = cty.List(cty.Number)
	case sdk.TypeStringMap:
		want = cty.Map(cty.String)
	case sdk.TypeAny:
		return ctyToGo(v), nil
	default:
		return nil, fmt.Errorf("unknown schema type %q", typ)
	}
	cv, err := convert.Convert(v, want)
	if err != nil {
		return nil, fmt.Errorf("%s required", typ)
	}
	if typ == sdk.TypeDuration {
		s := cv.AsString()
		if _, err := time.ParseDuration(s); err != nil {
			return nil, fmt.Errorf("%q is not a duration (use a number and a unit, like \"30s\" or \"5m\")", s)
		}
		return s, nil
	}
	return ctyToGo(cv), nil
}

// ctyToGo converts a known value to JSON-compatible Go values.
func ctyToGo(v cty.Value) any {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		if v.AsBigFloat().IsInt() {
			if i, acc := v.AsBigFloat().Int64(); acc == big.Exact {
				return float64(i)
			}
		}
		return f
	case t == cty.Bool:
		return v.True()
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			out = append(out, ctyToGo(ev))
		}
		return out
	case t.IsMapType() || t.IsObjectType():
		out := make(map[string]any, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			out[k.AsString()] = ctyToGo(ev)
		}
		return out
	}
	return nil
}
