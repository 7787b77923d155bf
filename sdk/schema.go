package sdk

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"time"
)

// Attribute types.
const (
	TypeString     = "string"
	TypeNumber     = "number"
	TypeBool       = "bool"
	TypeDuration   = "duration" // a Go duration string such as "1m30s"
	TypeStringList = "list(string)"
	TypeNumberList = "list(number)"
	TypeStringMap  = "map(string)"
	TypeAny        = "any"
)

// Schema is the configuration schema of a component (or the documented
// inputs/outputs of an action).
type Schema struct {
	Attributes []Attribute `json:"attributes"`
}

// Attribute is one attribute of a schema.
type Attribute struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required,omitempty"`
	// Default applies when the attribute is absent. It must match Type
	// (durations as strings, numbers as Go numbers).
	Default     any    `json:"default,omitempty"`
	Description string `json:"description,omitempty"`
	// Example is a value in HCL syntax, shown in docs.
	Example string `json:"example,omitempty"`
}

// Attribute returns the named attribute.
func (s Schema) Attribute(name string) (Attribute, bool) {
	for _, a := range s.Attributes {
		if a.Name == name {
			return a, true
		}
	}
	return Attribute{}, false
}

// IsZero reports whether the schema declares nothing.
func (s Schema) IsZero() bool { return len(s.Attributes) == 0 }

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks that the schema is well formed: names are identifiers,
// no duplicates, known types, defaults match their type and required
// attributes have no default.
func (s Schema) Validate() error {
	seen := map[string]bool{}
	for i, a := range s.Attributes {
		if !identRE.MatchString(a.Name) {
			return fmt.Errorf("attribute %d: name %q is not an identifier", i, a.Name)
		}
		if seen[a.Name] {
			return fmt.Errorf("attribute %s: declared twice", a.Name)
		}
		seen[a.Name] = true
		if !KnownType(a.Type) {
			return fmt.Errorf("attribute %s: unknown type %q", a.Name, a.Type)
		}
		if a.Required && a.Default != nil {
			return fmt.Errorf("attribute %s: required attributes cannot have a default", a.Name)
		}
		if a.Default != nil {
			if _, err := CoerceValue(a.Type, a.Default); err != nil {
				return fmt.Errorf("attribute %s: default: %w", a.Name, err)
			}
		}
	}
	return nil
}

// KnownType reports whether t is one of the attribute types.
func KnownType(t string) bool {
	switch t {
	case TypeString, TypeNumber, TypeBool, TypeDuration, TypeStringList, TypeNumberList, TypeStringMap, TypeAny:
		return true
	}
	return false
}

// ApplyDefaults returns a copy of config with the schema's defaults filled
// in for absent attributes, and checks required attributes and value types.
// Values are normalised to their JSON form (numbers float64, durations
// strings, lists []any, maps map[string]any).
func (s Schema) ApplyDefaults(config map[string]any) (map[string]any, Diagnostics) {
	out := make(map[string]any, len(s.Attributes))
	var diags Diagnostics
	for k, v := range config {
		a, ok := s.Attribute(k)
		if !ok {
			diags = append(diags, Diagnostic{Severity: SeverityError, Summary: "unsupported attribute", Detail: fmt.Sprintf("no attribute %q is declared", k), Attribute: k})
			continue
		}
		nv, err := CoerceValue(a.Type, v)
		if err != nil {
			diags = append(diags, Diagnostic{Severity: SeverityError, Summary: "invalid value", Detail: err.Error(), Attribute: k})
			continue
		}
		out[k] = nv
	}
	for _, a := range s.Attributes {
		if _, ok := out[a.Name]; ok {
			continue
		}
		if _, bad := config[a.Name]; bad {
			continue
		}
		if a.Required {
			diags = append(diags, Diagnostic{Severity: SeverityError, Summary: "missing required attribute", Detail: fmt.Sprintf("the attribute %q is required", a.Name), Attribute: a.Name})
			continue
		}
		if a.Default != nil {
			v, _ := CoerceValue(a.Type, a.Default)
			out[a.Name] = v
		}
	}
	return out, diags
}

// CoerceValue checks v against an attribute type and returns it in its JSON
// form.
func CoerceValue(typ string, v any) (any, error) {
	switch typ {
	case TypeAny:
		return v, nil
	case TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case TypeNumber:
		if f, ok := toFloat(v); ok {
			return f, nil
		}
	case TypeDuration:
		switch d := v.(type) {
		case string:
			if _, err := time.ParseDuration(d); err != nil {
				return nil, fmt.Errorf("%q is not a duration (like \"30s\" or \"5m\")", d)
			}
			return d, nil
		case time.Duration:
			return d.String(), nil
		}
	case TypeStringList, TypeNumberList:
		rv := reflect.ValueOf(v)
		if v != nil && (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array) {
			out := make([]any, rv.Len())
			for i := range out {
				ev, err := CoerceValue(elemType(typ), rv.Index(i).Interface())
				if err != nil {
					return nil, fmt.Errorf("element %d: %w", i, err)
				}
				out[i] = ev
			}
			return out, nil
		}
	case TypeStringMap:
		rv := reflect.ValueOf(v)
		if v != nil && rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String {
			out := make(map[string]any, rv.Len())
			it := rv.MapRange()
			for it.Next() {
				s, ok := it.Value().Interface().(string)
				if !ok {
					return nil, fmt.Errorf("key %q: want a string, got %s", it.Key().String(), describe(it.Value().Interface()))
				}
				out[it.Key().String()] = s
			}
			return out, nil
		}
	default:
		return nil, fmt.Errorf("unknown type %q", typ)
	}
	return nil, fmt.Errorf("want %s, got %s", typ, describe(v))
}

func elemType(list string) string {
	if list == TypeNumberList {
		return TypeNumber
	}
	return TypeString
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n)
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	if _, ok := toFloat(v); ok {
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}
