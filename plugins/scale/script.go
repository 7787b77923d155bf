package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
)

// execScaler is scale.exec: the operator's script scales and counts.
type execScaler struct{}

// Configure accepts the empty component configuration.
func (*execScaler) Configure(context.Context, map[string]any) error { return nil }

// Close does nothing.
func (*execScaler) Close(context.Context) error { return nil }

var lastIntRE = regexp.MustCompile(`-?\d+`)

// lastInt returns the last integer in out.
func lastInt(out string) (int, bool) {
	all := lastIntRE.FindAllString(out, -1)
	if len(all) == 0 {
		return 0, false
	}
	n, err := strconv.Atoi(all[len(all)-1])
	return n, err == nil
}

func (*execScaler) run(ctx context.Context, t sdk.Target, args ...string) (string, error) {
	prefix := "plugin scale: exec " + t.Name
	c, err := pluginutil.Inputs(prefix, execSpec.Inputs, t.Config)
	if err != nil {
		return "", err
	}
	argv := append(c.Strings("command"), args...)
	ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = c.String("dir")
	cmd.Env = append(os.Environ(), "HEADY_POLICY="+t.Name, "HEADY_ACTION="+args[0])
	if len(args) > 1 {
		cmd.Env = append(cmd.Env, "HEADY_DESIRED="+args[1])
	}
	for k, v := range c.StringMap("env") {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	setProcessGroup(cmd)
	cmd.Cancel = func() error { killGroup(cmd); return nil }
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	killGroup(cmd)
	if ctx.Err() != nil {
		return out.String(), &sdk.Error{Code: sdk.CodeTimeout, Retryable: true, Message: fmt.Sprintf("%s: %s: timed out", prefix, strings.Join(args, " "))}
	}
	if err != nil {
		return out.String(), &sdk.Error{Code: "error", Retryable: true, Message: fmt.Sprintf("%s: %s: %v: %s", prefix, strings.Join(args, " "), err, tail(errb.String()))}
	}
	return out.String(), nil
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 500 {
		s = "…" + s[len(s)-500:]
	}
	return s
}

// Current runs `COMMAND... current` and reads the last integer it prints.
func (s *execScaler) Current(ctx context.Context, t sdk.Target) (int, error) {
	out, err := s.run(ctx, t, "current")
	if err != nil {
		return 0, err
	}
	n, ok := lastInt(out)
	if !ok {
		return 0, &sdk.Error{Code: sdk.CodeInvalid, Message: "plugin scale: exec " + t.Name + ": current: the script printed no count: " + tail(out)}
	}
	return n, nil
}

// Scale runs `COMMAND... scale N`; the count is the last integer it prints,
// or, when it prints none, what `current` reports afterwards.
func (s *execScaler) Scale(ctx context.Context, t sdk.Target, desired int) (sdk.ScaleResult, error) {
	out, err := s.run(ctx, t, "scale", strconv.Itoa(desired))
	if err != nil {
		return sdk.ScaleResult{Message: tail(out)}, err
	}
	n, ok := lastInt(out)
	if !ok {
		if n, err = s.Current(ctx, t); err != nil {
			return sdk.ScaleResult{Message: tail(out)}, err
		}
	}
	return sdk.ScaleResult{Current: n, Message: tail(out)}, nil
}

// webhookScaler is scale.webhook.
type webhookScaler struct {
	client *http.Client
}

// Configure prepares the HTTP client.
func (w *webhookScaler) Configure(context.Context, map[string]any) error {
	w.client = pluginutil.NewHTTPClient(nil)
	return nil
}

// Close releases idle connections.
func (w *webhookScaler) Close(context.Context) error {
	if w.client != nil {
		w.client.CloseIdleConnections()
	}
	return nil
}

// webhookAnswer is what the endpoint answers.
type webhookAnswer struct {
	Current *int   `json:"current"`
	Message string `json:"message"`
}

func (w *webhookScaler) call(ctx context.Context, t sdk.Target, method string, body any) (webhookAnswer, error) {
	prefix := "plugin scale: webhook " + t.Name
	c, err := pluginutil.Inputs(prefix, webhookSpec.Inputs, t.Config)
	if err != nil {
		return webhookAnswer{}, err
	}
	u, err := pluginutil.ParseURL(c.String("url"))
	if err != nil {
		return webhookAnswer{}, pluginutil.Invalid("%s: %v", prefix, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	var rd io.Reader
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return webhookAnswer{}, pluginutil.Invalid("%s: %v", prefix, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "heady-plugin-scale/"+Version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		if sec := c.String("secret"); sec != "" {
			req.Header.Set(pluginutil.HeaderSignature, pluginutil.Sign(sec, raw))
		}
	}
	for k, v := range c.StringMap("headers") {
		req.Header.Set(k, v)
	}
	client := w.client
	if client == nil {
		client = pluginutil.NewHTTPClient(nil)
	}
	resp, err := client.Do(req)
	if err != nil {
		return webhookAnswer{}, pluginutil.TransportError(ctx, prefix, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return webhookAnswer{}, pluginutil.StatusError(prefix, resp.StatusCode, tail(string(b)))
	}
	var a webhookAnswer
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &a); err != nil {
			return webhookAnswer{}, &sdk.Error{Code: sdk.CodeInvalid, Message: prefix + ": answer is not JSON: " + tail(string(b))}
		}
	}
	return a, nil
}

// Current GETs the URL and reads {"current": N}.
func (w *webhookScaler) Current(ctx context.Context, t sdk.Target) (int, error) {
	a, err := w.call(ctx, t, http.MethodGet, nil)
	if err != nil {
		return 0, err
	}
	if a.Current == nil {
		return 0, &sdk.Error{Code: sdk.CodeInvalid, Message: "plugin scale: webhook " + t.Name + `: answer has no "current"`}
	}
	return *a.Current, nil
}

// Scale POSTs {"policy", "desired"}; the answer's "current" is the new
// count (the desired count when it has none).
func (w *webhookScaler) Scale(ctx context.Context, t sdk.Target, desired int) (sdk.ScaleResult, error) {
	a, err := w.call(ctx, t, http.MethodPost, map[string]any{"policy": t.Name, "desired": desired})
	if err != nil {
		return sdk.ScaleResult{}, err
	}
	n := desired
	if a.Current != nil {
		n = *a.Current
	}
	return sdk.ScaleResult{Current: n, Message: a.Message}, nil
}

var (
	_ sdk.Scaler = (*execScaler)(nil)
	_ sdk.Scaler = (*webhookScaler)(nil)
)
