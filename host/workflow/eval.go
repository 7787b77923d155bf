package workflow

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// toCty converts a JSON-shaped Go value to cty. Common shapes (maps, slices,
// strings, numbers, bools) convert directly; anything else goes through a
// JSON round trip.
func toCty(v any) (cty.Value, error) {
	if v == nil {
		return cty.EmptyObjectVal, nil
	}
	return goToCty(v)
}

func goToCty(v any) (cty.Value, error) {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType), nil
	case string:
		return cty.StringVal(x), nil
	case bool:
		return cty.BoolVal(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return cty.NilVal, fmt.Errorf("number %v is not representable", x)
		}
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return cty.NumberIntVal(int64(x)), nil
		}
		return cty.NumberFloatVal(x), nil
	case float32:
		return goToCty(float64(x))
	case int:
		return cty.NumberIntVal(int64(x)), nil
	case int64:
		return cty.NumberIntVal(x), nil
	case int32:
		return cty.NumberIntVal(int64(x)), nil
	case uint64:
		return cty.NumberUIntVal(x), nil
	case uint32:
		return cty.NumberUIntVal(uint64(x)), nil
	case json.Number:
		return cty.ParseNumberVal(string(x))
	case map[string]any:
		if len(x) == 0 {
			return cty.EmptyObjectVal, nil
		}
		m := make(map[string]cty.Value, len(x))
		for k, e := range x {
			cv, err := goToCty(e)
			if err != nil {
				return cty.NilVal, err
			}
			m[k] = cv
		}
		return cty.ObjectVal(m), nil
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal, nil
		}
		l := make([]cty.Value, len(x))
		for i, e := range x {
			cv, err := goToCty(e)
			if err != nil {
				return cty.NilVal, err
			}
			l[i] = cv
		}
		return cty.TupleVal(l), nil
	case []string:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = e
		}
		return goToCty(l)
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return goToCty(m)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return cty.NilVal, err
	}
	t, err := ctyjson.ImpliedType(b)
	if err != nil {
		return cty.NilVal, err
	}
	return ctyjson.Unmarshal(b, t)
}

// fromCty converts a cty value to a JSON-shaped Go value (numbers become
// float64, objects and maps map[string]any, sequences []any).
func fromCty(v cty.Value) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("value is not known")
	}
	v, _ = v.Unmark()
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Bool:
		return v.True(), nil
	case t == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		return f, nil
	case t.IsObjectType() || t.IsMapType():
		m := make(map[string]any, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			g, err := fromCty(e)
			if err != nil {
				return nil, err
			}
			m[k.AsString()] = g
		}
		return m, nil
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		l := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			g, err := fromCty(e)
			if err != nil {
				return nil, err
			}
			l = append(l, g)
		}
		return l, nil
	}
	b, err := ctyjson.Marshal(v, t)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// evalBool evaluates a condition; null is false.
func evalBool(expr hcl.Expression, ctx *hcl.EvalContext) (bool, error) {
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return false, diags
	}
	if v.IsNull() {
		return false, nil
	}
	if !v.IsWhollyKnown() {
		return false, exprError(expr, "condition value is not known")
	}
	bv, err := convert.Convert(v, cty.Bool)
	if err != nil {
		return false, exprError(expr, "condition must be a bool: "+err.Error())
	}
	return bv.True(), nil
}

func exprError(expr hcl.Expression, msg string) error {
	r := expr.Range()
	return fmt.Errorf("%s: %s", r.String(), msg)
}

// forEachItems expands a for_each value into (key, value) pairs in order.
// Lists, tuples and sets give numeric keys; maps and objects give their keys
// (sorted, as cty iterates them).
func forEachItems(expr hcl.Expression, v cty.Value) (items []forItem, isMap bool, err error) {
	if v.IsNull() || !v.IsWhollyKnown() {
		return nil, false, exprError(expr, "for_each must be a known, non-null collection")
	}
	t := v.Type()
	switch {
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
	case t.IsMapType() || t.IsObjectType():
		isMap = true
	default:
		return nil, false, exprError(expr, "for_each must be a list, set, map or object, not "+t.FriendlyName())
	}
	it := v.ElementIterator()
	i := 0
	for it.Next() {
		k, ev := it.Element()
		key := k
		label := ""
		if isMap {
			label = k.AsString()
		} else {
			key = cty.NumberIntVal(int64(i))
			label = fmt.Sprint(i)
		}
		items = append(items, forItem{key: key, value: ev, label: label})
		i++
	}
	return items, isMap, nil
}

type forItem struct {
	key, value cty.Value
	label      string
}

func eventValue(ev EventInfo) (cty.Value, error) {
	data, err := toCty(ev.Data)
	if err != nil {
		return cty.NilVal, fmt.Errorf("event data: %w", err)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"id":     cty.StringVal(ev.ID),
		"type":   cty.StringVal(ev.Type),
		"source": cty.StringVal(ev.Source),
		"time":   cty.StringVal(ev.Time.UTC().Format(time.RFC3339Nano)),
		"data":   data,
	}), nil
}

func objOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}
