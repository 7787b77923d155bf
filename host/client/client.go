// Package client is a small Go client of Heady's REST API, used by the CLI's
// client commands, by agents and by tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Client talks to one Heady host.
type Client struct {
	// Addr is the base URL, e.g. http://127.0.0.1:3000.
	Addr  string
	Token string
	HTTP  *http.Client
}

// FromEnv builds a client from HEADY_ADDR (default http://127.0.0.1:3000)
// and HEADY_TOKEN.
func FromEnv() *Client {
	addr := os.Getenv("HEADY_ADDR")
	if addr == "" {
		addr = "http://127.0.0.1:3000"
	}
	return New(addr, os.Getenv("HEADY_TOKEN"))
}

// New builds a client.
func New(addr, token string) *Client {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return &Client{Addr: strings.TrimRight(addr, "/"), Token: token, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// APIError is an error answered by the API.
type APIError struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Field   string         `json:"field,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return msg
}

// Do sends a request under /api/v1/automation (path starts with "/") and
// decodes a JSON answer into out (nil to discard).
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.Raw(ctx, method, "/api/v1/automation"+path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("client: read response: %w", err)
	}
	if resp.StatusCode >= 400 {
		var env struct {
			Error *APIError `json:"error"`
		}
		if json.Unmarshal(data, &env) == nil && env.Error != nil {
			env.Error.Status = resp.StatusCode
			if out != nil {
				_ = json.Unmarshal(data, out)
			}
			return env.Error
		}
		if out != nil {
			_ = json.Unmarshal(data, out)
		}
		return &APIError{Status: resp.StatusCode, Code: "http_error", Message: strings.TrimSpace(string(data))}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("client: decode response: %w", err)
		}
	}
	return nil
}

// Raw sends a request to an absolute path and returns the response.
func (c *Client) Raw(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("client: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Addr+path, rd)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	return resp, nil
}
