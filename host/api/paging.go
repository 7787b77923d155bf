package api

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Page is the shape of every list response.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// pageParams reads limit (default 50, at most 1000) and cursor.
func pageParams(c *fiber.Ctx) (limit int, cursor string, err error) {
	limit = 50
	if v := c.Query("limit"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > 1000 {
			return 0, "", FieldError("limit", "limit must be a whole number from 1 to 1000, got %q", v)
		}
		limit = n
	}
	return limit, c.Query("cursor"), nil
}

// timeParam reads an RFC 3339 time or a duration back from now ("1h").
func timeParam(c *fiber.Ctx, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, FieldError(name, "%s must be an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (1h), got %q", name, v)
}

func listOf[T any](items []T, next string) Page[T] {
	if items == nil {
		items = []T{}
	}
	return Page[T]{Items: items, NextCursor: next}
}
