// Package mcpscan discovers Model Context Protocol servers and records what
// they are: server name and version, negotiated protocol version,
// capabilities and tools.
//
// Three transports are spoken: Streamable HTTP (a POST per message, answers
// as JSON or as an SSE stream, the Mcp-Session-Id header, DELETE of the
// session at the end), the older HTTP+SSE transport (a GET event stream
// whose first "endpoint" event names the URL to POST messages to), and
// stdio (newline-delimited JSON-RPC with a process started from a
// configured command).
package mcpscan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/heady-dev/heady/sdk"
)

// ProtocolVersions are the MCP revisions this client speaks, newest first;
// the first is offered in initialize.
var ProtocolVersions = []string{"2025-06-18", "2025-03-26", "2024-11-05"}

// Options tune one probe.
type Options struct {
	// Timeout bounds the whole exchange with one server (default 5s).
	Timeout time.Duration
	// Transport forces "streamable" or "sse"; empty tries both.
	Transport string
	// ClientVersion is sent in clientInfo.
	ClientVersion string
}

// Tool is one tool a server offers.
type Tool struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Info is what a server told about itself.
type Info struct {
	URL             string         `json:"url,omitempty"`
	Command         []string       `json:"command,omitempty"`
	Transport       string         `json:"transport"` // streamable_http | sse | stdio
	ServerName      string         `json:"server_name"`
	ServerVersion   string         `json:"server_version,omitempty"`
	ProtocolVersion string         `json:"protocol_version"`
	Capabilities    map[string]any `json:"capabilities,omitempty"`
	Instructions    string         `json:"instructions,omitempty"`
	Tools           []Tool         `json:"tools,omitempty"`
	SessionID       string         `json:"session_id,omitempty"`
}

// Map is Info as a plain map (service metadata).
func (i Info) Map() map[string]any {
	b, _ := json.Marshal(i)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	delete(m, "session_id")
	return m
}

// ToolNames lists the tool names.
func (i Info) ToolNames() []string {
	out := make([]string, len(i.Tools))
	for k, t := range i.Tools {
		out[k] = t.Name
	}
	return out
}

// Service turns Info into a discovered service.
func (i Info) Service(id string) sdk.Service {
	s := sdk.Service{ID: id, Name: i.ServerName, Kind: "mcp", Protocol: "mcp/" + i.Transport, URL: i.URL,
		Labels: map[string]string{"mcp": "true", "transport": i.Transport}, Metadata: i.Map(), Health: "healthy"}
	if u, err := url.Parse(i.URL); err == nil && u.Host != "" {
		s.Address = u.Hostname()
		fmt.Sscanf(u.Port(), "%d", &s.Port)
	}
	if s.Name == "" {
		s.Name = "mcp " + i.URL
	}
	return s
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type rpcMessage struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

func request(id int, method string, params any) []byte {
	m := map[string]any{"jsonrpc": "2.0", "method": method}
	if id > 0 {
		m["id"] = id
	}
	if params != nil {
		m["params"] = params
	}
	b, _ := json.Marshal(m)
	return b
}

// transport exchanges JSON-RPC messages with one server.
type transport interface {
	call(ctx context.Context, id int, method string, params any) (json.RawMessage, error)
	notify(ctx context.Context, method string, params any) error
	setProtocol(v string)
	close(ctx context.Context)
}

func matchID(raw json.RawMessage, id int) bool {
	return strings.TrimSpace(string(raw)) == fmt.Sprint(id)
}

func result(m rpcMessage) (json.RawMessage, error) {
	if m.Error != nil {
		return nil, fmt.Errorf("json-rpc error %d: %s", m.Error.Code, m.Error.Message)
	}
	return m.Result, nil
}

// handshake runs initialize, notifications/initialized and tools/list.
func handshake(ctx context.Context, t transport, o Options) (Info, error) {
	cv := o.ClientVersion
	if cv == "" {
		cv = "1"
	}
	raw, err := t.call(ctx, 1, "initialize", map[string]any{
		"protocolVersion": ProtocolVersions[0],
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "heady-discovery", "version": cv},
	})
	if err != nil {
		return Info{}, fmt.Errorf("initialize: %w", err)
	}
	var init struct {
		ProtocolVersion string         `json:"protocolVersion"`
		Capabilities    map[string]any `json:"capabilities"`
		ServerInfo      struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"serverInfo"`
		Instructions string `json:"instructions"`
	}
	if err := json.Unmarshal(raw, &init); err != nil {
		return Info{}, fmt.Errorf("initialize: result: %w", err)
	}
	if init.ProtocolVersion == "" || init.ServerInfo.Name == "" && init.Capabilities == nil {
		return Info{}, errors.New("initialize: not an MCP initialize result")
	}
	if !slices.Contains(ProtocolVersions, init.ProtocolVersion) {
		return Info{}, fmt.Errorf("initialize: server chose protocol version %q, this client speaks %s", init.ProtocolVersion, strings.Join(ProtocolVersions, ", "))
	}
	t.setProtocol(init.ProtocolVersion)
	info := Info{ServerName: init.ServerInfo.Name, ServerVersion: init.ServerInfo.Version,
		ProtocolVersion: init.ProtocolVersion, Capabilities: init.Capabilities, Instructions: init.Instructions}
	if err := t.notify(ctx, "notifications/initialized", nil); err != nil {
		return info, fmt.Errorf("notifications/initialized: %w", err)
	}
	if _, ok := init.Capabilities["tools"]; ok {
		cursor := ""
		for page := 0; page < 20; page++ {
			var params any
			if cursor != "" {
				params = map[string]any{"cursor": cursor}
			}
			raw, err := t.call(ctx, 2+page, "tools/list", params)
			if err != nil {
				return info, fmt.Errorf("tools/list: %w", err)
			}
			var tl struct {
				Tools      []Tool `json:"tools"`
				NextCursor string `json:"nextCursor"`
			}
			if err := json.Unmarshal(raw, &tl); err != nil {
				return info, fmt.Errorf("tools/list: result: %w", err)
			}
			info.Tools = append(info.Tools, tl.Tools...)
			if tl.NextCursor == "" {
				break
			}
			cursor = tl.NextCursor
		}
	}
	return info, nil
}

// Probe talks to the MCP server at rawURL over HTTP: Streamable HTTP
// first, then the HTTP+SSE transport (unless o.Transport forces one).
// client's dialer decides where connections go; its Timeout is ignored in
// favour of o.Timeout.
func Probe(ctx context.Context, client *http.Client, rawURL string, o Options) (Info, error) {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.Timeout = 0
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var errs []error
	if o.Transport == "" || o.Transport == "streamable" || o.Transport == "streamable_http" {
		t := &streamable{c: &c, url: rawURL}
		sctx, scancel := ctx, context.CancelFunc(func() {})
		if o.Transport == "" {
			// Leave the other half of the budget to the SSE attempt.
			sctx, scancel = context.WithTimeout(ctx, o.Timeout/2)
		}
		info, err := handshake(sctx, t, o)
		t.close(ctx)
		scancel()
		if err == nil {
			info.URL, info.Transport = rawURL, "streamable_http"
			return info, nil
		}
		errs = append(errs, fmt.Errorf("streamable http: %w", err))
	}
	if o.Transport == "" || o.Transport == "sse" {
		info, err := probeSSE(ctx, &c, rawURL, o)
		if err == nil {
			info.URL, info.Transport = rawURL, "sse"
			return info, nil
		}
		errs = append(errs, fmt.Errorf("sse: %w", err))
	}
	return Info{}, fmt.Errorf("mcp %s: %w", rawURL, errors.Join(errs...))
}

// streamable is the Streamable HTTP transport.
type streamable struct {
	c        *http.Client
	url      string
	session  string
	protocol string
}

func (s *streamable) setProtocol(v string) { s.protocol = v }

func (s *streamable) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if s.session != "" {
		req.Header.Set("Mcp-Session-Id", s.session)
	}
	if s.protocol != "" {
		req.Header.Set("MCP-Protocol-Version", s.protocol)
	}
	return s.c.Do(req)
}

func (s *streamable) call(ctx context.Context, id int, method string, params any) (json.RawMessage, error) {
	res, err := s.post(ctx, request(id, method, params))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if sid := res.Header.Get("Mcp-Session-Id"); sid != "" && s.session == "" {
		s.session = sid
	}
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return nil, fmt.Errorf("POST answered %s", res.Status)
	}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	switch mt {
	case "text/event-stream":
		var out json.RawMessage
		var found error = errors.New("event stream ended without a response")
		err := readSSE(res.Body, func(ev, data string) bool {
			if ev == "endpoint" {
				found = errors.New("answered with an HTTP+SSE endpoint event: not Streamable HTTP")
				return false
			}
			var m rpcMessage
			if json.Unmarshal([]byte(data), &m) != nil || !matchID(m.ID, id) {
				return true
			}
			out, found = result(m)
			return false
		})
		if err != nil && out == nil && found != nil {
			return nil, err
		}
		return out, found
	case "application/json":
		var m rpcMessage
		if err := json.NewDecoder(io.LimitReader(res.Body, 4<<20)).Decode(&m); err != nil {
			return nil, fmt.Errorf("response body: %w", err)
		}
		if !matchID(m.ID, id) {
			return nil, fmt.Errorf("response id %s, want %d", m.ID, id)
		}
		return result(m)
	default:
		return nil, fmt.Errorf("response content type %q is neither JSON nor an event stream", mt)
	}
}

func (s *streamable) notify(ctx context.Context, method string, params any) error {
	res, err := s.post(ctx, request(0, method, params))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted && res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST answered %s", res.Status)
	}
	return nil
}

// close ends the session with DELETE (a 405 means the server keeps none).
func (s *streamable) close(ctx context.Context) {
	if s.session == "" {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(dctx, http.MethodDelete, s.url, nil)
	if err != nil {
		return
	}
	req.Header.Set("Mcp-Session-Id", s.session)
	if s.protocol != "" {
		req.Header.Set("MCP-Protocol-Version", s.protocol)
	}
	if res, err := s.c.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
}

// readSSE parses a text/event-stream, calling fn per event until fn
// returns false or the stream ends.
func readSSE(r io.Reader, fn func(event, data string) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	ev := ""
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(data) > 0 || ev != "" {
				if !fn(ev, strings.Join(data, "\n")) {
					return nil
				}
			}
			ev, data = "", nil
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, val, _ := strings.Cut(line, ":")
		val = strings.TrimPrefix(val, " ")
		switch field {
		case "event":
			ev = val
		case "data":
			data = append(data, val)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.EOF
}

// sseTransport is the HTTP+SSE transport (protocol 2024-11-05).
type sseTransport struct {
	c        *http.Client
	endpoint string
	mu       sync.Mutex
	waiters  map[string]chan rpcMessage
	done     chan struct{}
	err      error
}

func (s *sseTransport) setProtocol(string) {}

func probeSSE(ctx context.Context, c *http.Client, rawURL string, o Options) (Info, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return Info{}, err
	}
	req.Header.Set("Accept", "text/event-stream")
	res, err := c.Do(req)
	if err != nil {
		return Info{}, err
	}
	defer res.Body.Close()
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); res.StatusCode != http.StatusOK || mt != "text/event-stream" {
		return Info{}, fmt.Errorf("GET answered %s (%s), not an event stream", res.Status, res.Header.Get("Content-Type"))
	}
	t := &sseTransport{c: c, waiters: map[string]chan rpcMessage{}, done: make(chan struct{})}
	endpoint := make(chan string, 1)
	go func() {
		defer close(t.done)
		err := readSSE(res.Body, func(ev, data string) bool {
			switch ev {
			case "endpoint":
				select {
				case endpoint <- data:
				default:
				}
			case "", "message":
				var m rpcMessage
				if json.Unmarshal([]byte(data), &m) == nil && len(m.ID) > 0 {
					t.mu.Lock()
					w := t.waiters[strings.TrimSpace(string(m.ID))]
					t.mu.Unlock()
					if w != nil {
						w <- m
					}
				}
			}
			return true
		})
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
	}()
	select {
	case e := <-endpoint:
		base, _ := url.Parse(rawURL)
		ref, err := url.Parse(e)
		if err != nil {
			return Info{}, fmt.Errorf("endpoint event %q: %w", e, err)
		}
		abs := base.ResolveReference(ref)
		if abs.Host != base.Host {
			return Info{}, fmt.Errorf("endpoint event names another host (%s); refusing to leave the target", abs.Host)
		}
		t.endpoint = abs.String()
	case <-t.done:
		return Info{}, errors.New("event stream ended before an endpoint event")
	case <-ctx.Done():
		return Info{}, fmt.Errorf("waiting for the endpoint event: %w", ctx.Err())
	}
	return handshake(ctx, t, o)
}

func (s *sseTransport) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := s.c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s answered %s", s.endpoint, res.Status)
	}
	return nil
}

func (s *sseTransport) call(ctx context.Context, id int, method string, params any) (json.RawMessage, error) {
	w := make(chan rpcMessage, 1)
	key := fmt.Sprint(id)
	s.mu.Lock()
	s.waiters[key] = w
	s.mu.Unlock()
	defer func() { s.mu.Lock(); delete(s.waiters, key); s.mu.Unlock() }()
	if err := s.post(ctx, request(id, method, params)); err != nil {
		return nil, err
	}
	select {
	case m := <-w:
		return result(m)
	case <-s.done:
		return nil, errors.New("event stream closed before the response")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *sseTransport) notify(ctx context.Context, method string, params any) error {
	return s.post(ctx, request(0, method, params))
}

func (s *sseTransport) close(context.Context) {}

// ProbeCommand starts command (argv) with env added to the host's
// environment, speaks MCP over its stdin/stdout, and stops it.
func ProbeCommand(ctx context.Context, command []string, env map[string]string, o Options) (Info, error) {
	if len(command) == 0 {
		return Info{}, errors.New("mcp stdio: empty command")
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	setProcessGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return Info{}, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Info{}, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &limitedWriter{w: &stderr, n: 16 << 10}
	if err := cmd.Start(); err != nil {
		return Info{}, fmt.Errorf("mcp stdio: start %s: %w", command[0], err)
	}
	t := &stdioTransport{in: stdin, lines: make(chan []byte, 16), done: make(chan struct{})}
	go func() {
		defer close(t.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		for sc.Scan() {
			select {
			case t.lines <- append([]byte(nil), sc.Bytes()...):
			case <-ctx.Done():
				return
			}
		}
	}()
	info, herr := handshake(ctx, t, o)
	_ = stdin.Close()
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(500 * time.Millisecond):
		killGroup(cmd)
		<-exited
	}
	if herr != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 400 {
			msg = msg[len(msg)-400:]
		}
		if msg != "" {
			return Info{}, fmt.Errorf("mcp stdio %s: %w (stderr: %s)", command[0], herr, msg)
		}
		return Info{}, fmt.Errorf("mcp stdio %s: %w", command[0], herr)
	}
	info.Transport, info.Command = "stdio", command
	return info, nil
}

type limitedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
	n  int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

type stdioTransport struct {
	in    io.Writer
	lines chan []byte
	done  chan struct{}
}

func (s *stdioTransport) setProtocol(string) {}

func (s *stdioTransport) write(b []byte) error {
	_, err := s.in.Write(append(b, '\n'))
	return err
}

func (s *stdioTransport) call(ctx context.Context, id int, method string, params any) (json.RawMessage, error) {
	if err := s.write(request(id, method, params)); err != nil {
		return nil, err
	}
	for {
		select {
		case line := <-s.lines:
			var m rpcMessage
			if json.Unmarshal(line, &m) != nil || !matchID(m.ID, id) {
				continue
			}
			return result(m)
		case <-s.done:
			return nil, errors.New("server closed its output")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *stdioTransport) notify(_ context.Context, method string, params any) error {
	return s.write(request(0, method, params))
}

func (s *stdioTransport) close(context.Context) {}
