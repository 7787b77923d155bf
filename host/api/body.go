package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// decodeBody decodes a JSON request body strictly into v. Unknown fields,
// wrong types and syntax errors become a 400 naming the field.
func decodeBody(c *fiber.Ctx, v any, allowEmpty bool) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return FieldError("body", "request body is empty; send a JSON object")
	}
	if ct := c.Get(fiber.HeaderContentType); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &Error{Status: fiber.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
			Message: fmt.Sprintf("send application/json, not %q", ct)}
	}
	return DecodeJSON(body, v)
}

// DecodeJSON is the strict decoder behind every JSON body (exported for
// fuzzing).
func DecodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return FieldError("body", "unexpected data after the JSON value")
	}
	return nil
}

func jsonError(err error) *Error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return FieldError(field, "%s must be %s, got %s", field, jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return FieldError("body", "malformed JSON at byte %d: %v", se.Offset, se)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if name == "" {
			return FieldError("body", "unknown field with an empty name")
		}
		return FieldError(name, "unknown field %q", name)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return FieldError("body", "truncated JSON")
	default:
		return FieldError("body", "invalid JSON: %v", err)
	}
}

func jsonKind(k string) string {
	switch k {
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "int32", "uint", "uint64", "float64", "float32":
		return "a number"
	default:
		return k
	}
}
