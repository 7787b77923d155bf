package pluginhost

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binaries built once for the package's tests: the plugin directory holds
// heady-plugin-testp (testdata/testplugin) and heady-plugin-noop.
var (
	pluginDir   string
	hostkillBin string
	rawBin      string
)

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = filepath.Join(tmp, "plugins")
	hostkillBin = filepath.Join(tmp, "hostkill")
	rawBin = filepath.Join(tmp, "rawserver")
	builds := [][2]string{
		{filepath.Join(pluginDir, "heady-plugin-testp"), "./testdata/testplugin"},
		{filepath.Join(pluginDir, "heady-plugin-noop"), "../../plugins/noop"},
		{filepath.Join(pluginDir, "heady-plugin-greeter"), "../../examples/greeter-plugin"},
		{hostkillBin, "./testdata/hostkill"},
		{rawBin, "./testdata/rawserver"},
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", b[1], err)
			os.RemoveAll(tmp)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// recorder is a Recorder that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []LifecycleEvent
}

func (r *recorder) Record(_ context.Context, e LifecycleEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) kinds(plugin string) []LifecycleKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []LifecycleKind
	for _, e := range r.events {
		if e.Plugin == plugin {
			out = append(out, e.Kind)
		}
	}
	return out
}

func (r *recorder) find(kind LifecycleKind) (LifecycleEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Kind == kind {
			return e, true
		}
	}
	return LifecycleEvent{}, false
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newManager returns a Manager over the test plugin directory, closed when
// the test ends.
func newManager(t testing.TB, mod func(*Options)) (*Manager, *recorder, *syncBuffer) {
	t.Helper()
	rec := &recorder{}
	logs := &syncBuffer{}
	opts := Options{
		Dirs:           []string{pluginDir},
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Recorder:       rec,
		RestartBackoff: 200 * time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	m := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m, rec, logs
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid is a live (non-zombie) process.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// state is the field after the parenthesised command name
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func statusOf(m *Manager, name string) Status {
	for _, s := range m.List() {
		if s.Name == name {
			return s
		}
	}
	return Status{}
}
