package mcpscan

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain doubles as a stdio MCP server when HEADY_MCP_STDIO_SERVER=1.
func TestMain(m *testing.M) {
	if os.Getenv("HEADY_MCP_STDIO_SERVER") == "1" {
		serveStdio()
		return
	}
	os.Exit(m.Run())
}

type rpcReq struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// answer is a tiny MCP server: initialize (answering version), tools/list
// in two pages.
func answer(r rpcReq, version string) (any, bool) {
	if len(r.ID) == 0 {
		return nil, false
	}
	var result any
	switch r.Method {
	case "initialize":
		result = map[string]any{"protocolVersion": version, "capabilities": map[string]any{"tools": map[string]any{}},
			"serverInfo": map[string]any{"name": "toy", "version": "0.3"}}
	case "tools/list":
		var p struct {
			Cursor string `json:"cursor"`
		}
		_ = json.Unmarshal(r.Params, &p)
		if p.Cursor == "" {
			result = map[string]any{"tools": []any{map[string]any{"name": "add", "description": "adds"}}, "nextCursor": "p2"}
		} else {
			result = map[string]any{"tools": []any{map[string]any{"name": "echo"}}}
		}
	default:
		return map[string]any{"jsonrpc": "2.0", "id": r.ID, "error": map[string]any{"code": -32601, "message": "no"}}, true
	}
	return map[string]any{"jsonrpc": "2.0", "id": r.ID, "result": result}, true
}

func serveStdio() {
	sc := bufio.NewScanner(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	// A log line on stdout that is not JSON-RPC must be skipped.
	fmt.Println("starting toy server")
	for sc.Scan() {
		var r rpcReq
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if out, ok := answer(r, "2025-03-26"); ok {
			_ = enc.Encode(out)
		}
	}
}

type streamServer struct {
	mu       sync.Mutex
	sse      bool
	version  string
	deleted  []string
	notified bool
	headers  []string
}

func (s *streamServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Method {
	case http.MethodDelete:
		s.deleted = append(s.deleted, r.Header.Get("Mcp-Session-Id"))
		return
	case http.MethodPost:
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var req rpcReq
	_ = json.NewDecoder(r.Body).Decode(&req)
	if req.Method != "initialize" && r.Header.Get("Mcp-Session-Id") != "sess-1" {
		http.Error(w, "missing session", http.StatusBadRequest)
		return
	}
	s.headers = append(s.headers, r.Header.Get("MCP-Protocol-Version"))
	if req.Method == "notifications/initialized" {
		s.notified = true
		w.WriteHeader(http.StatusAccepted)
		return
	}
	out, _ := answer(req, s.version)
	if req.Method == "initialize" {
		w.Header().Set("Mcp-Session-Id", "sess-1")
	}
	b, _ := json.Marshal(out)
	if s.sse {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, ": keepalive\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\nevent: message\ndata: %s\n\n", b)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func TestStreamableHTTP(t *testing.T) {
	cases := []struct {
		name    string
		sse     bool
		version string
		wantErr string
	}{
		{"json responses", false, "2025-06-18", ""},
		{"sse responses", true, "2025-06-18", ""},
		{"older revision accepted", false, "2025-03-26", ""},
		{"unknown revision refused", false, "1999-01-01", "protocol version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &streamServer{sse: tc.sse, version: tc.version}
			srv := httptest.NewServer(s)
			defer srv.Close()
			info, err := Probe(context.Background(), srv.Client(), srv.URL+"/mcp", Options{Transport: "streamable", Timeout: 3 * time.Second})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.ServerName != "toy" || info.ProtocolVersion != tc.version || info.Transport != "streamable_http" ||
				strings.Join(info.ToolNames(), ",") != "add,echo" || info.Capabilities["tools"] == nil {
				t.Fatalf("%+v", info)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if !s.notified || len(s.deleted) != 1 || s.deleted[0] != "sess-1" {
				t.Fatalf("notified %v deleted %v", s.notified, s.deleted)
			}
			if last := s.headers[len(s.headers)-1]; last != tc.version {
				t.Fatalf("MCP-Protocol-Version header %q after negotiation", last)
			}
		})
	}
}

// legacySSE is the HTTP+SSE transport: GET /sse streams, POST /message.
func legacySSE(t *testing.T, endpoint string) *httptest.Server {
	msgs := make(chan []byte, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "event: endpoint\ndata: %s\n\n", endpoint)
		w.(http.Flusher).Flush()
		for {
			select {
			case m := <-msgs:
				fmt.Fprintf(w, "event: message\ndata: %s\n\n", m)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("/message", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req rpcReq
		_ = json.Unmarshal(b, &req)
		if out, ok := answer(req, "2024-11-05"); ok {
			ob, _ := json.Marshal(out)
			msgs <- ob
		}
		w.WriteHeader(http.StatusAccepted)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestLegacySSE(t *testing.T) {
	srv := legacySSE(t, "/message?sessionId=abc")
	info, err := Probe(context.Background(), srv.Client(), srv.URL+"/sse", Options{Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if info.Transport != "sse" || info.ProtocolVersion != "2024-11-05" || len(info.Tools) != 2 {
		t.Fatalf("%+v", info)
	}
	t.Run("endpoint on another host is refused", func(t *testing.T) {
		srv := legacySSE(t, "http://203.0.113.7/message")
		_, err := Probe(context.Background(), srv.Client(), srv.URL+"/sse", Options{Transport: "sse", Timeout: 2 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "another host") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNotMCP(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := Probe(context.Background(), srv.Client(), srv.URL+"/mcp", Options{Timeout: 2 * time.Second}); err == nil {
		t.Fatal("a 404 server is not MCP")
	}
}

func TestStdio(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	info, err := ProbeCommand(context.Background(), []string{exe}, map[string]string{"HEADY_MCP_STDIO_SERVER": "1"}, Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if info.Transport != "stdio" || info.ServerName != "toy" || info.ProtocolVersion != "2025-03-26" || len(info.Tools) != 2 {
		t.Fatalf("%+v", info)
	}
	if _, err := ProbeCommand(context.Background(), []string{"/nonexistent/mcp"}, nil, Options{}); err == nil {
		t.Fatal("missing command must fail")
	}
}
