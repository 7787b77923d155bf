package api

import (
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

var paramPattern = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)

// OpenAPI builds the OpenAPI 3 document of every declared route.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	for _, r := range s.routes {
		p := paramPattern.ReplaceAllString(r.FullPath(), "{$1}")
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{
			"summary":     r.Summary,
			"operationId": operationID(r),
			"tags":        []string{r.Tag},
		}
		var params []any
		for _, m := range paramPattern.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for name, desc := range r.Query {
			params = append(params, map[string]any{"name": name, "in": "query", "required": false, "description": desc, "schema": map[string]any{"type": "string"}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if r.Request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(r.Request))}}}
		}
		resp := map[string]any{"description": "success"}
		if r.Response != nil {
			resp["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(r.Response))}}
		}
		errResp := map[string]any{"description": "error", "content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
		responses := map[string]any{statusKey(r.Status): resp, "default": errResp}
		op["responses"] = responses
		switch r.Role {
		case RolePublic:
			op["security"] = []any{}
		case RoleReader:
			op["security"] = []any{map[string]any{}, map[string]any{"bearer": []string{}}}
			op["x-heady-role"] = r.Role
		default:
			op["security"] = []any{map[string]any{"bearer": []string{}}}
			op["x-heady-role"] = r.Role
		}
		item[strings.ToLower(r.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Heady automation API",
			"version":     s.opts.Version,
			"description": "Workflows, health, scaling, discovery, registry, intelligence and audit of a Heady host.",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{"Error": map[string]any{
				"type": "object",
				"properties": map[string]any{"error": map[string]any{"type": "object", "properties": map[string]any{
					"code": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"},
					"field": map[string]any{"type": "string"}, "details": map[string]any{"type": "object"},
				}}},
			}},
		},
	}
}

func statusKey(s int) string {
	if s == 0 {
		s = fiber.StatusOK
	}
	return strconv.Itoa(s)
}

func operationID(r Route) string {
	p := strings.NewReplacer("/", "_", ":", "", "-", "_").Replace(strings.Trim(r.Path, "/"))
	return strings.ToLower(r.Method) + "_" + p
}

var timeType = reflect.TypeOf(time.Time{})

// schemaOf derives a JSON schema from a Go type through its json tags.
func schemaOf(t reflect.Type) map[string]any {
	return schemaDepth(t, 0)
}

func schemaDepth(t reflect.Type, depth int) map[string]any {
	if depth > 8 {
		return map[string]any{}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": schemaDepth(t.Elem(), depth+1)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaDepth(t.Elem(), depth+1)}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				if sub := schemaDepth(f.Type, depth+1); sub["properties"] != nil {
					for k, v := range sub["properties"].(map[string]any) {
						props[k] = v
					}
				}
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaDepth(f.Type, depth+1)
			if f.Tag.Get("required") == "true" || (!strings.Contains(opts, "omitempty") && f.Tag.Get("validate") == "required") {
				required = append(required, name)
			}
		}
		out := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			out["required"] = required
		}
		return out
	default:
		return map[string]any{}
	}
}
