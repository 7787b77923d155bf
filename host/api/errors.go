package api

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// Error is the one error shape of the API:
//
//	{"error": {"code": "invalid_field", "message": "...", "field": "type", "details": {...}}}
type Error struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Field   string         `json:"field,omitempty"`
	Details map[string]any `json:"details,omitempty"`
	// RetryAfter, in seconds, is sent as a Retry-After header when set.
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorBody is the JSON envelope.
type errorBody struct {
	Error *Error `json:"error"`
}

// Errorf builds an API error with a status and code.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError is a 400 naming the offending request field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Status: fiber.StatusBadRequest, Code: "invalid_field", Field: field,
		Message: fmt.Sprintf(format, args...), Details: map[string]any{"field": field}}
}

// NotFound is a 404 for a named resource.
func NotFound(kind, id string) *Error {
	return &Error{Status: fiber.StatusNotFound, Code: "not_found",
		Message: fmt.Sprintf("%s %q not found", kind, id), Details: map[string]any{"resource": kind, "id": id}}
}

// errorHandler renders every error returned by a handler in the one shape.
func errorHandler(c *fiber.Ctx, err error) error {
	var ae *Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = &Error{Status: fe.Code, Code: codeForStatus(fe.Code), Message: fe.Message}
		if fe.Code == fiber.StatusRequestEntityTooLarge {
			ae.Field = "body"
			ae.Message = "request body is larger than the limit"
		}
	default:
		ae = &Error{Status: fiber.StatusInternalServerError, Code: "internal", Message: err.Error()}
	}
	if ae.Status == 0 {
		ae.Status = fiber.StatusInternalServerError
	}
	if ae.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(ae.RetryAfter))
	}
	c.Locals(localError, ae)
	return c.Status(ae.Status).JSON(errorBody{Error: ae})
}

func codeForStatus(s int) string {
	switch s {
	case fiber.StatusBadRequest:
		return "bad_request"
	case fiber.StatusUnauthorized:
		return "unauthorized"
	case fiber.StatusForbidden:
		return "forbidden"
	case fiber.StatusNotFound:
		return "not_found"
	case fiber.StatusMethodNotAllowed:
		return "method_not_allowed"
	case fiber.StatusRequestEntityTooLarge:
		return "body_too_large"
	case fiber.StatusTooManyRequests:
		return "too_many_requests"
	case fiber.StatusRequestTimeout:
		return "timeout"
	case fiber.StatusServiceUnavailable:
		return "unavailable"
	default:
		if s >= 500 {
			return "internal"
		}
		return "error"
	}
}
