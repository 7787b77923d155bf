package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
)

// Version is the plugin's version.
const Version = "1.0.0"

const prefix = "plugin http: request"

// ConfigSchema is the configuration of http.request.
var ConfigSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "timeout", Type: sdk.TypeDuration, Default: "30s", Description: "Default deadline of one request when the step gives none.", Example: `"10s"`},
	{Name: "user_agent", Type: sdk.TypeString, Default: "heady-http/" + Version, Description: "User-Agent header unless the step sets one.", Example: `"my-app-automation/1.0"`},
	{Name: "max_body_bytes", Type: sdk.TypeNumber, Default: 1 << 20, Description: "Response bytes kept in the body output; the rest is discarded and body_truncated is set.", Example: "65536"},
	{Name: "allowed_hosts", Type: sdk.TypeStringList, Description: "When set, only these hosts (\"host\", \"host:port\" or \"*.domain\") may be called, redirects included.", Example: `["127.0.0.1", "*.example.com"]`},
	{Name: "max_redirects", Type: sdk.TypeNumber, Default: 10, Description: "Redirects followed when follow_redirects is true.", Example: "3"},
}}

// InputSchema is the inputs of http.request.
var InputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "method", Type: sdk.TypeString, Default: "GET", Description: "HTTP method.", Example: `"POST"`},
	{Name: "url", Type: sdk.TypeString, Required: true, Description: "Absolute http or https URL.", Example: `"http://127.0.0.1:8090/api/workspaces"`},
	{Name: "headers", Type: sdk.TypeStringMap, Description: "Request headers.", Example: `{ Authorization = "Bearer x" }`},
	{Name: "query", Type: sdk.TypeStringMap, Description: "Query parameters added to the URL.", Example: `{ q = "word" }`},
	{Name: "body", Type: sdk.TypeString, Description: "Raw request body.", Example: `"hello"`},
	{Name: "json", Type: sdk.TypeAny, Description: "Any value, encoded as the JSON request body (Content-Type: application/json). Exclusive with body.", Example: `{ user_id = event.data.user_id }`},
	{Name: "timeout", Type: sdk.TypeDuration, Description: "Deadline of this request; defaults to the configured timeout (the step's own deadline still applies).", Example: `"5s"`},
	{Name: "expect_status", Type: sdk.TypeNumberList, Description: "Statuses that count as success; default any 2xx.", Example: "[200, 404]"},
	{Name: "follow_redirects", Type: sdk.TypeBool, Default: true, Description: "Follow redirects (up to max_redirects).", Example: "false"},
}}

// OutputSchema documents the outputs of http.request.
var OutputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "status", Type: sdk.TypeNumber, Description: "Response status code."},
	{Name: "headers", Type: sdk.TypeStringMap, Description: "Response headers (canonical names, repeated values joined with \", \")."},
	{Name: "body", Type: sdk.TypeString, Description: "Response body, capped at max_body_bytes."},
	{Name: "body_truncated", Type: sdk.TypeBool, Description: "Whether the body was cut at max_body_bytes."},
	{Name: "json", Type: sdk.TypeAny, Description: "The decoded body when the response is JSON (absent otherwise)."},
	{Name: "duration_ms", Type: sdk.TypeNumber, Description: "Time from sending the request to reading the body."},
}}

// Options are the sdk.Serve options of heady-plugin-http.
func Options() []sdk.Option {
	return []sdk.Option{
		sdk.WithName("http"),
		sdk.WithVersion(Version),
		sdk.WithDescription("Makes HTTP requests from workflow steps."),
		sdk.WithAction(sdk.Spec{
			Name:        "request",
			Description: "Makes one HTTP request; an unexpected status fails the step with code http_<status> (5xx and 429 retryable, 4xx permanent).",
			Config:      ConfigSchema,
			Inputs:      InputSchema,
			Outputs:     OutputSchema,
		}, func() sdk.Action { return &Request{} }),
	}
}

// Request is the http.request action. One instance keeps one client with
// pooled connections.
type Request struct {
	client       *http.Client
	timeout      time.Duration
	userAgent    string
	maxBody      int64
	maxRedirects int
	allowed      []string
}

// Configure builds the client.
func (r *Request) Configure(_ context.Context, config map[string]any) error {
	c := sdk.Config(config)
	r.timeout = c.Duration("timeout")
	r.userAgent = c.String("user_agent")
	r.maxBody = int64(c.Number("max_body_bytes"))
	r.maxRedirects = c.Int("max_redirects")
	r.allowed = c.Strings("allowed_hosts")
	if r.timeout <= 0 {
		return fmt.Errorf("plugin http: configure: timeout must be positive")
	}
	if r.maxBody < 0 || r.maxRedirects < 0 {
		return fmt.Errorf("plugin http: configure: max_body_bytes and max_redirects must not be negative")
	}
	r.client = pluginutil.NewHTTPClient(r.allowed)
	return nil
}

// Run makes the request.
func (r *Request) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	in, err := pluginutil.Inputs(prefix, InputSchema, req.Inputs)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	method := strings.ToUpper(in.String("method"))
	u, err := pluginutil.ParseURL(in.String("url"))
	if err != nil {
		return sdk.ActionResponse{}, pluginutil.Invalid("%s: %v", prefix, err)
	}
	if q := in.StringMap("query"); len(q) > 0 {
		vals := u.Query()
		for k, v := range q {
			vals.Set(k, v)
		}
		u.RawQuery = vals.Encode()
	}
	if err := pluginutil.CheckHost(r.allowed, u); err != nil {
		return sdk.ActionResponse{}, fmt.Errorf("%s: %w", prefix, err)
	}
	var body io.Reader
	contentType := ""
	switch {
	case in.Has("body") && in.Has("json"):
		return sdk.ActionResponse{}, pluginutil.Invalid("%s: body and json are exclusive", prefix)
	case in.Has("json"):
		b, err := json.Marshal(in["json"])
		if err != nil {
			return sdk.ActionResponse{}, pluginutil.Invalid("%s: encode json: %v", prefix, err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	case in.Has("body"):
		body = strings.NewReader(in.String("body"))
	}
	timeout := r.timeout
	if in.Has("timeout") {
		timeout = in.Duration("timeout")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if in.Bool("follow_redirects") {
		ctx = pluginutil.WithRedirects(ctx, r.maxRedirects)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return sdk.ActionResponse{}, pluginutil.Invalid("%s: %v", prefix, err)
	}
	if contentType != "" {
		hreq.Header.Set("Content-Type", contentType)
	}
	hreq.Header.Set("User-Agent", r.userAgent)
	if req.IdempotencyKey != "" && method != http.MethodGet && method != http.MethodHead {
		hreq.Header.Set("Idempotency-Key", req.IdempotencyKey)
	}
	for k, v := range in.StringMap("headers") {
		if strings.EqualFold(k, "Host") {
			hreq.Host = v
			continue
		}
		hreq.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := r.client.Do(hreq)
	if err != nil {
		return sdk.ActionResponse{Outputs: map[string]any{"duration_ms": ms(time.Since(start))}}, pluginutil.TransportError(ctx, prefix+": "+method+" "+u.Redacted(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, r.maxBody+1))
	if err != nil {
		return sdk.ActionResponse{}, pluginutil.TransportError(ctx, prefix+": read body", err)
	}
	truncated := int64(len(raw)) > r.maxBody
	if truncated {
		raw = raw[:r.maxBody]
	}
	out := map[string]any{
		"status":         resp.StatusCode,
		"headers":        flatten(resp.Header),
		"body":           string(raw),
		"body_truncated": truncated,
		"duration_ms":    ms(time.Since(start)),
	}
	if !truncated && isJSON(resp.Header.Get("Content-Type")) && len(raw) > 0 {
		var v any
		if err := json.Unmarshal(raw, &v); err == nil {
			out["json"] = v
		}
	}
	result := sdk.ActionResponse{Outputs: out}
	result.Log(slog.LevelInfo, fmt.Sprintf("%s %s -> %d in %dms", method, u.Redacted(), resp.StatusCode, out["duration_ms"]))
	if !expected(resp.StatusCode, in.Numbers("expect_status")) {
		return result, pluginutil.StatusError(prefix+": "+method+" "+u.Redacted(), resp.StatusCode, string(raw))
	}
	return result, nil
}

// Close releases pooled connections.
func (r *Request) Close(context.Context) error {
	if r.client != nil {
		r.client.CloseIdleConnections()
	}
	return nil
}

func unwrapURLError(err error) error {
	// *url.Error repeats method and URL, which the prefix already has.
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}

func expected(status int, want []float64) bool {
	if len(want) == 0 {
		return status >= 200 && status <= 299
	}
	for _, w := range want {
		if int(w) == status {
			return true
		}
	}
	return false
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func flatten(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

var _ sdk.Action = (*Request)(nil)
