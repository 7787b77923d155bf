package mcpscan

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// canned answers every request in process, without a network: the fuzzed
// bytes are the server's answers.
type canned func(req *http.Request, method string) (status int, ctype string, body []byte)

func (c canned) RoundTrip(req *http.Request) (*http.Response, error) {
	var m struct {
		Method string `json:"method"`
	}
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		_ = json.Unmarshal(b, &m)
	}
	status, ctype, body := c(req, m.Method)
	h := http.Header{}
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h,
		Body: io.NopCloser(bytes.NewReader(body)), Request: req, ProtoMajor: 1, ProtoMinor: 1}, nil
}

const (
	seedInit  = `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"fuzz","version":"1.0"}}}`
	seedTools = `{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"echo","description":"echoes"}]}}`
)

func sse(msgs ...string) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("event: message\ndata: " + m + "\n\n")
	}
	return b.String()
}

func checkInfo(t *testing.T, info Info, err error, transport string) {
	t.Helper()
	if err != nil {
		return
	}
	if info.Transport != transport || !slices.Contains(ProtocolVersions, info.ProtocolVersion) {
		t.Fatalf("accepted a probe with transport %q and protocol %q", info.Transport, info.ProtocolVersion)
	}
	if info.ServerName == "" && info.Capabilities == nil {
		t.Fatalf("accepted a server with neither a name nor capabilities: %+v", info)
	}
	if len(info.Tools) > 0 && info.Capabilities["tools"] == nil {
		t.Fatalf("listed tools of a server without the tools capability: %+v", info)
	}
}

// FuzzStreamableResponse gives the Streamable HTTP probe arbitrary
// answers (content type, initialize result, tools/list result): it must
// not crash or hang, and what it accepts is a real MCP handshake.
func FuzzStreamableResponse(f *testing.F) {
	f.Add("application/json", []byte(seedInit), []byte(seedTools))
	f.Add("text/event-stream", []byte(sse(seedInit)), []byte(sse(`{"jsonrpc":"2.0","method":"notifications/progress"}`, seedTools)))
	f.Add("text/event-stream", []byte("event: endpoint\ndata: /messages\n\n"), []byte{})
	f.Add("application/json", []byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"no"}}`), []byte{})
	f.Add("application/json", []byte(`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"1999-01-01","serverInfo":{"name":"old"}}}`), []byte{})
	f.Add("application/json", []byte(`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"pager"}}}`),
		[]byte(`{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"a"}],"nextCursor":"again"}}`))
	f.Add("text/html; charset=utf-8", []byte("<html></html>"), []byte{})
	f.Fuzz(func(t *testing.T, ctype string, initBody, toolsBody []byte) {
		client := &http.Client{Transport: canned(func(req *http.Request, method string) (int, string, []byte) {
			switch {
			case req.Method == http.MethodDelete:
				return http.StatusMethodNotAllowed, "", nil
			case method == "initialize":
				return http.StatusOK, ctype, initBody
			case method == "tools/list":
				// every page answers with the same body
				return http.StatusOK, ctype, toolsBody
			default:
				return http.StatusAccepted, "", nil
			}
		})}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		info, err := Probe(ctx, client, "http://127.0.0.1:1/mcp", Options{Transport: "streamable", Timeout: 2 * time.Second})
		if time.Since(start) > 3*time.Second {
			t.Fatalf("probe took %s against answers that are all in memory", time.Since(start))
		}
		checkInfo(t, info, err, "streamable_http")
	})
}

// FuzzSSEStream gives the HTTP+SSE probe an arbitrary event stream: it
// must not crash or hang, must never post outside the target host, and
// what it accepts is a real MCP handshake.
func FuzzSSEStream(f *testing.F) {
	f.Add([]byte("event: endpoint\ndata: /messages?session=1\n\n" + sse(seedInit, seedTools)))
	f.Add([]byte("event: endpoint\ndata: http://203.0.113.9/steal\n\n" + sse(seedInit)))
	f.Add([]byte(": comment\n\nevent: endpoint\ndata: /m\n\ndata: {\"id\":1}\n\n"))
	f.Add([]byte("event: endpoint\r\ndata: /m\r\n\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, stream []byte) {
		client := &http.Client{Transport: canned(func(req *http.Request, _ string) (int, string, []byte) {
			if req.URL.Host != "127.0.0.1:1" {
				t.Errorf("request to %s, outside the target", req.URL)
			}
			if req.Method == http.MethodGet {
				return http.StatusOK, "text/event-stream", stream
			}
			return http.StatusAccepted, "", nil
		})}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		info, err := Probe(ctx, client, "http://127.0.0.1:1/sse", Options{Transport: "sse", Timeout: 2 * time.Second})
		if time.Since(start) > 3*time.Second {
			t.Fatalf("probe took %s against a stream that is all in memory", time.Since(start))
		}
		checkInfo(t, info, err, "sse")
	})
}

// FuzzReadSSE checks the event-stream parser on its own: every event it
// reports carries data or a name, and it stops when told to.
func FuzzReadSSE(f *testing.F) {
	f.Add([]byte(sse(seedInit, seedTools)))
	f.Add([]byte("data: a\ndata: b\n\n:x\nevent: e\n\n"))
	f.Add([]byte("data"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		n := 0
		_ = readSSE(bytes.NewReader(stream), func(ev, data string) bool {
			n++
			if ev == "" && data == "" && !bytes.Contains(stream, []byte("data")) {
				t.Fatalf("an empty event from a stream without data lines")
			}
			return n < 3
		})
		if n > 3 {
			t.Fatalf("readSSE went on after its callback said stop (%d events)", n)
		}
	})
}
