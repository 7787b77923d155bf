package sdk

import (
	"time"
)

// Config is a convenience view of a component's configuration (or of any
// JSON object such as action inputs): typed getters that return the zero
// value when an attribute is absent or of another type. The host has
// already applied defaults and checked types against the schema.
//
//	c := sdk.Config(config)
//	timeout := c.Duration("timeout")
type Config map[string]any

// String returns a string attribute.
func (c Config) String(name string) string {
	s, _ := c[name].(string)
	return s
}

// Number returns a number attribute.
func (c Config) Number(name string) float64 {
	f, _ := toFloat(c[name])
	return f
}

// Int returns a number attribute truncated to an int.
func (c Config) Int(name string) int { return int(c.Number(name)) }

// Bool returns a bool attribute.
func (c Config) Bool(name string) bool {
	b, _ := c[name].(bool)
	return b
}

// Duration returns a duration attribute ("30s").
func (c Config) Duration(name string) time.Duration {
	switch v := c[name].(type) {
	case string:
		d, _ := time.ParseDuration(v)
		return d
	case time.Duration:
		return v
	}
	return 0
}

// Strings returns a list(string) attribute.
func (c Config) Strings(name string) []string {
	switch v := c[name].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Numbers returns a list(number) attribute.
func (c Config) Numbers(name string) []float64 {
	switch v := c[name].(type) {
	case []float64:
		return v
	case []any:
		out := make([]float64, 0, len(v))
		for _, e := range v {
			if f, ok := toFloat(e); ok {
				out = append(out, f)
			}
		}
		return out
	}
	return nil
}

// StringMap returns a map(string) attribute.
func (c Config) StringMap(name string) map[string]string {
	switch v := c[name].(type) {
	case map[string]string:
		return v
	case map[string]any:
		out := make(map[string]string, len(v))
		for k, e := range v {
			if s, ok := e.(string); ok {
				out[k] = s
			}
		}
		return out
	}
	return nil
}

// Has reports whether the attribute is present.
func (c Config) Has(name string) bool {
	_, ok := c[name]
	return ok
}
