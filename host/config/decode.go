package config

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
)

// attrs decodes the load-time attributes of one block. Every method records
// its problems in diags and reports whether a usable value was stored; an
// absent or null attribute leaves the destination (its default) untouched.
type attrs struct {
	list  hcl.Attributes
	ctx   *hcl.EvalContext
	block hcl.Range // the block's definition range, for missing arguments
	diags *hcl.Diagnostics
	// incomplete: a file failed to parse, so an undeclared variable may be
	// declared there; do not report it.
	incomplete bool
}

func (a *attrs) has(name string) bool {
	_, ok := a.list[name]
	return ok
}

// rangeOf returns the range of an attribute's expression, or the block's.
func (a *attrs) rangeOf(name string) hcl.Range {
	if at, ok := a.list[name]; ok {
		return at.Expr.Range()
	}
	return a.block
}

func (a *attrs) errorf(name, summary, format string, args ...any) {
	rng := a.rangeOf(name)
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	}
	if at, ok := a.list[name]; ok {
		d.Context = at.Range.Ptr()
	}
	*a.diags = append(*a.diags, d)
}

func (a *attrs) missing(name, why string) {
	*a.diags = append(*a.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Missing required argument",
		Detail:   fmt.Sprintf("The argument %q is required%s.", name, why),
		Subject:  a.block.Ptr(),
	})
}

// value evaluates an attribute and converts it to ty. It returns cty.NilVal
// when the attribute is absent, null or invalid.
func (a *attrs) value(name string, ty cty.Type, what string) cty.Value {
	at, ok := a.list[name]
	if !ok {
		return cty.NilVal
	}
	v, ok := a.eval(at)
	if !ok {
		return cty.NilVal
	}
	if !v.IsWhollyKnown() {
		// Only a variable whose value failed (already reported) is unknown
		// at load time.
		return cty.NilVal
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		a.errorf(name, "Incorrect attribute value type", "Inappropriate value for attribute %q: %s required, got %s.", name, what, typeName(v.Type()))
		return cty.NilVal
	}
	if cv.IsNull() {
		return cty.NilVal
	}
	return cv
}

// eval evaluates a load-time attribute. References are checked first so
// that a misspelt variable gets a suggestion and a runtime-only name
// (event, step, ...) gets an explanation. A null value counts as absent.
func (a *attrs) eval(at *hcl.Attribute) (cty.Value, bool) {
	ok := true
	for _, tr := range at.Expr.Variables() {
		root := tr.RootName()
		rng := tr.SourceRange()
		if root == "var" {
			if len(tr) < 2 {
				continue
			}
			attr, isAttr := tr[1].(hcl.TraverseAttr)
			if !isAttr {
				continue
			}
			declared := a.ctx.Variables["var"].Type()
			if !declared.IsObjectType() || !declared.HasAttribute(attr.Name) {
				ok = false
				if a.incomplete {
					continue
				}
				var names []string
				if declared.IsObjectType() {
					names = keys(declared.AttributeTypes())
				}
				*a.diags = append(*a.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared variable",
					Detail:   fmt.Sprintf("No variable named %q is declared; declare it with a variable %q { default = ... } block.%s", attr.Name, attr.Name, suggest(attr.Name, names)),
					Subject:  rng.Ptr(),
				})
			}
			continue
		}
		if _, known := a.ctx.Variables[root]; known {
			continue
		}
		detail := fmt.Sprintf("There is no variable named %q. This attribute is evaluated when the policy is loaded and can refer to var.* and functions only.%s", root, suggest(root, []string{"var"}))
		if contains(runtimeRoots, root) {
			detail = fmt.Sprintf("%s.* is only available at run time: in a step's input, if and for_each, and in a trigger's condition. This attribute is evaluated when the policy is loaded and can refer to var.* and functions only.", root)
		}
		*a.diags = append(*a.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unknown variable",
			Detail:   detail,
			Subject:  rng.Ptr(),
		})
		ok = false
	}
	if !ok {
		return cty.NilVal, false
	}
	v, diags := at.Expr.Value(a.ctx)
	*a.diags = append(*a.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}

func typeName(t cty.Type) string {
	switch {
	case t == cty.String:
		return "string"
	case t == cty.Number:
		return "number"
	case t == cty.Bool:
		return "bool"
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		return "list"
	case t.IsObjectType() || t.IsMapType():
		return "object"
	}
	return t.FriendlyName()
}

func (a *attrs) str(name string, dst *string) bool {
	v := a.value(name, cty.String, "string")
	if v == cty.NilVal {
		return false
	}
	*dst = v.AsString()
	return true
}

func (a *attrs) boolean(name string, dst *bool) bool {
	v := a.value(name, cty.Bool, "bool")
	if v == cty.NilVal {
		return false
	}
	*dst = v.True()
	return true
}

func (a *attrs) number(name string, dst *float64) bool {
	v := a.value(name, cty.Number, "number")
	if v == cty.NilVal {
		return false
	}
	*dst, _ = v.AsBigFloat().Float64()
	return true
}

func (a *attrs) int64(name string, dst *int64) bool {
	v := a.value(name, cty.Number, "number")
	if v == cty.NilVal {
		return false
	}
	n, ok := wholeNumber(v.AsBigFloat())
	if !ok {
		a.errorf(name, "Invalid attribute value", "The value of %q must be a whole number, got %s.", name, v.AsBigFloat().Text('g', -1))
		return false
	}
	*dst = n
	return true
}

func wholeNumber(f *big.Float) (int64, bool) {
	if !f.IsInt() {
		return 0, false
	}
	n, acc := f.Int64()
	return n, acc == big.Exact
}

func (a *attrs) integer(name string, dst *int) bool {
	var n int64
	if !a.int64(name, &n) {
		return false
	}
	*dst = int(n)
	return true
}

// intMin decodes an integer that must be at least min.
func (a *attrs) intMin(name string, dst *int, min int) bool {
	var n int
	if !a.integer(name, &n) {
		return false
	}
	if n < min {
		a.errorf(name, "Value out of range", "The value of %q must be at least %d, got %d.", name, min, n)
		return false
	}
	*dst = n
	return true
}

// numRange decodes a number within [lo, hi].
func (a *attrs) numRange(name string, dst *float64, lo, hi float64) bool {
	var f float64
	if !a.number(name, &f) {
		return false
	}
	if f < lo || f > hi {
		a.errorf(name, "Value out of range", "The value of %q must be between %g and %g, got %g.", name, lo, hi, f)
		return false
	}
	*dst = f
	return true
}

func (a *attrs) dur(name string, dst *time.Duration) bool {
	at, ok := a.list[name]
	if !ok {
		return false
	}
	v, ok := a.eval(at)
	if !ok {
		return false
	}
	if v.Type() != cty.String {
		a.errorf(name, "Invalid duration", "The value of %q must be a duration string, got %s; %s.", name, typeName(v.Type()), durationHint)
		return false
	}
	d, err := ParseDuration(v.AsString())
	if err != nil {
		a.errorf(name, "Invalid duration", "%s; %s.", err, durationHint)
		return false
	}
	*dst = d
	return true
}

// positiveDur decodes a duration that must be greater than zero.
func (a *attrs) positiveDur(name string, dst *time.Duration) bool {
	var d time.Duration
	if !a.dur(name, &d) {
		return false
	}
	if d <= 0 {
		a.errorf(name, "Value out of range", "The duration %q must be greater than zero.", name)
		return false
	}
	*dst = d
	return true
}

func (a *attrs) strList(name string, dst *[]string) bool {
	v := a.value(name, cty.List(cty.String), "list of strings")
	if v == cty.NilVal {
		return false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			a.errorf(name, "Invalid attribute value", "The list %q must not contain null.", name)
			return false
		}
		out = append(out, e.AsString())
	}
	*dst = out
	return true
}

func (a *attrs) intList(name string, dst *[]int) bool {
	v := a.value(name, cty.List(cty.Number), "list of numbers")
	if v == cty.NilVal {
		return false
	}
	out := make([]int, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			a.errorf(name, "Invalid attribute value", "The list %q must not contain null.", name)
			return false
		}
		n, ok := wholeNumber(e.AsBigFloat())
		if !ok {
			a.errorf(name, "Invalid attribute value", "The list %q must contain whole numbers, got %s.", name, e.AsBigFloat().Text('g', -1))
			return false
		}
		out = append(out, int(n))
	}
	*dst = out
	return true
}

func (a *attrs) strMap(name string, dst *map[string]string) bool {
	v := a.value(name, cty.Map(cty.String), "map of strings")
	if v == cty.NilVal {
		return false
	}
	out := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			a.errorf(name, "Invalid attribute value", "The map %q must not contain null.", name)
			return false
		}
		out[k.AsString()] = e.AsString()
	}
	*dst = out
	return true
}

// enum decodes a string that must be one of allowed.
func (a *attrs) enum(name string, dst *string, allowed ...string) bool {
	var s string
	if !a.str(name, &s) {
		return false
	}
	if !contains(allowed, s) {
		a.errorf(name, "Invalid value for "+name, "%q is not valid; %s.%s", s, mustBeOneOf(allowed), suggest(s, allowed))
		return false
	}
	*dst = s
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mustBeOneOf(allowed []string) string {
	q := make([]string, len(allowed))
	for i, s := range allowed {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "must be one of " + strings.Join(q, ", ")
}

// suggest returns " Did you mean "X"?" for the closest candidate, or "".
func suggest(given string, candidates []string) string {
	best, bestDist := "", 3
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}
