package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/api"
	"github.com/heady-dev/heady/host/client"
	"github.com/heady-dev/heady/host/workflow"
)

// binDir holds heady and bin/plugins: HEADY_BIN when make test built them,
// otherwise built once here.
var binDir string

func TestMain(m *testing.M) {
	code := func() int {
		if d := os.Getenv("HEADY_BIN"); d != "" {
			binDir = d
		} else {
			tmp, err := os.MkdirTemp("", "heady-e2e-bin-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(tmp)
			if err := buildAll(tmp); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			binDir = tmp
		}
		return m.Run()
	}()
	os.Exit(code)
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

func buildAll(dir string) error {
	root := repoRoot()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "heady"), "./host/cmd/heady")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build heady: %v\n%s", err, out)
	}
	demo := exec.Command("go", "build", "-o", filepath.Join(dir, "demoapp"), "./examples/demoapp")
	demo.Dir = root
	if out, err := demo.CombinedOutput(); err != nil {
		return fmt.Errorf("build demoapp: %v\n%s", err, out)
	}
	mains, _ := filepath.Glob(filepath.Join(root, "plugins", "*", "main.go"))
	if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
		return err
	}
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "plugins", "heady-plugin-"+name), "./plugins/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build plugin %s: %v\n%s", name, err, out)
		}
	}
	return nil
}

// hostProc is one running heady process.
type hostProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string
	data    string
	policy  string
	token   string
	mu      sync.Mutex
	stdout  strings.Builder
	stderr  strings.Builder
	exited  chan struct{}
	exitErr error
	// httpc reaches the host's API (through its network namespace).
	httpc *http.Client
}

type hostOpts struct {
	policies string // directory; default: a fresh copy of the repo's policies
	data     string
	token    string
	env      []string
	args     []string
	// netns runs heady inside this network namespace (ip netns exec).
	netns string
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// copyDir copies the *.hcl files of src into a new temp dir.
func copyPolicies(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(src, "*.hcl"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

const testAdminToken = "hdy_00000000000e2e01_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func startHost(t *testing.T, o hostOpts) *hostProc {
	t.Helper()
	if o.policies == "" {
		o.policies = copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	}
	if o.data == "" {
		o.data = t.TempDir()
	}
	if o.token == "" {
		o.token = testAdminToken
	}
	h := &hostProc{t: t, data: o.data, policy: o.policies, token: o.token, exited: make(chan struct{})}
	h.addr = freePort(t)
	args := append([]string{"run", "--policies", o.policies, "--data", o.data, "--listen", h.addr,
		"--plugins", filepath.Join(binDir, "plugins")}, o.args...)
	h.cmd = exec.Command(filepath.Join(binDir, "heady"), args...)
	h.httpc = http.DefaultClient
	if o.netns != "" {
		h.cmd = exec.Command("ip", append([]string{"netns", "exec", o.netns, filepath.Join(binDir, "heady")}, args...)...)
		h.httpc = netnsHTTPClient(o.netns)
	}
	h.cmd.Env = append(os.Environ(), "HEADY_BOOTSTRAP_TOKEN="+o.token)
	h.cmd.Env = append(h.cmd.Env, o.env...)
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outR, _ := h.cmd.StdoutPipe()
	errR, _ := h.cmd.StderrPipe()
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pipes sync.WaitGroup
	pipes.Add(2)
	go h.copy(&pipes, outR, &h.stdout)
	go h.copy(&pipes, errR, &h.stderr)
	go func() {
		pipes.Wait()
		h.exitErr = h.cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-h.exited:
		default:
			_ = h.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-h.exited:
			case <-time.After(15 * time.Second):
				_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
				<-h.exited
			}
		}
		if t.Failed() {
			t.Logf("heady stdout:\n%s\nheady stderr:\n%s", h.out(), h.errOut())
		}
	})
	h.waitReady()
	return h
}

func (h *hostProc) copy(wg *sync.WaitGroup, r io.Reader, b *strings.Builder) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		h.mu.Lock()
		b.WriteString(sc.Text())
		b.WriteByte('\n')
		h.mu.Unlock()
	}
}

func (h *hostProc) out() string    { h.mu.Lock(); defer h.mu.Unlock(); return h.stdout.String() }
func (h *hostProc) errOut() string { h.mu.Lock(); defer h.mu.Unlock(); return h.stderr.String() }

func (h *hostProc) waitReady() {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-h.exited:
			h.t.Fatalf("heady exited early: %v\nstdout:\n%s\nstderr:\n%s", h.exitErr, h.out(), h.errOut())
		default:
		}
		resp, err := h.httpc.Get("http://" + h.addr + "/api/v1/automation/status")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("heady not ready within 30s\nstdout:\n%s\nstderr:\n%s", h.out(), h.errOut())
}

// client returns an API client with the given token ("" anonymous).
func (h *hostProc) client(token string) *client.Client {
	c := client.New(h.addr, token)
	if h.httpc != nil && h.httpc != http.DefaultClient {
		c.HTTP = h.httpc
	}
	return c
}

func (h *hostProc) admin() *client.Client { return h.client(h.token) }

// kill9 kills the host with SIGKILL and waits for it to be gone.
func (h *hostProc) kill9() {
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
	<-h.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (h *hostProc) stop() error {
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exited:
		return h.exitErr
	case <-time.After(30 * time.Second):
		return fmt.Errorf("heady did not stop within 30s")
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func bg() context.Context { return context.Background() }

// mcpEverything locates @modelcontextprotocol/server-everything; when it
// or node is missing it returns "" and why.
func mcpEverything() (script, why string) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", "node not installed"
	}
	candidates := []string{os.Getenv("HEADY_MCP_EVERYTHING"),
		filepath.Join(repoRoot(), "host", "e2e", "testdata", "mcp", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if _, err := os.Stat(c); err == nil {
			return c, ""
		}
	}
	return "", "@modelcontextprotocol/server-everything not installed: npm install --prefix host/e2e/testdata/mcp @modelcontextprotocol/server-everything (or set HEADY_MCP_EVERYTHING to its dist/index.js)"
}

// startEverythingOn runs server-everything in mode (streamableHttp, sse)
// on a loopback port and waits until it listens.
func startEverythingOn(t *testing.T, script, mode string, port int) {
	t.Helper()
	cmd := exec.Command("node", script, mode)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	eventually(t, 20*time.Second, "server-everything "+mode+" listening", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// steadyLoad is a bounded loopback load: one GET of url every 10 ms, at most
// max requests and for at most within, until stop.
type steadyLoad struct {
	sent, failed atomic.Int64
	stopc, done  chan struct{}
}

func startSteadyLoad(url string, max int64, within time.Duration) *steadyLoad {
	l := &steadyLoad{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		c := &http.Client{Timeout: 2 * time.Second}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		end := time.After(within)
		for l.sent.Load() < max {
			select {
			case <-l.stopc:
				return
			case <-end:
				return
			case <-tick.C:
			}
			l.sent.Add(1)
			resp, err := c.Get(url)
			if err != nil {
				l.failed.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				l.failed.Add(1)
			}
		}
	}()
	return l
}

// stop ends the load and fails t when more than a tenth of it failed.
func (l *steadyLoad) stop(t *testing.T) {
	t.Helper()
	close(l.stopc)
	<-l.done
	t.Logf("load: %d requests sent, %d failed", l.sent.Load(), l.failed.Load())
	if l.sent.Load() == 0 || l.failed.Load() > l.sent.Load()/10 {
		t.Fatalf("load: %d of %d requests failed", l.failed.Load(), l.sent.Load())
	}
}

// burstWorkflow is a two-step workflow started by every "burst.*" event: a
// plugin step, then an in-process one that reads its output.
const burstWorkflow = `
workflow "burst" {
  trigger "event" {
    type = "burst.*"
  }
  step "first" {
    action = "noop.ok"
    input {
      n = event.data.n
    }
  }
  step "second" {
    action     = "heady.noop"
    depends_on = ["first"]
    input {
      n = step.first.output.n
    }
  }
}
`

// execRow is one execution as the executions list shows it.
type execRow struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Trigger struct {
		Kind        string    `json:"kind"`
		EventID     string    `json:"event_id"`
		ScheduledAt time.Time `json:"scheduled_at"`
	} `json:"trigger"`
}

// pageExecutions pages through every execution of workflow wf.
func pageExecutions(h *hostProc, wf string) ([]execRow, error) {
	var out []execRow
	cursor := ""
	for {
		var page struct {
			Items      []execRow `json:"items"`
			NextCursor string    `json:"next_cursor"`
		}
		q := url.Values{"limit": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if err := h.admin().Do(bg(), http.MethodGet, "/workflows/"+wf+"/executions?"+q.Encode(), nil, &page); err != nil {
			return out, err
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// allExecutions is pageExecutions that fails t on an error.
func allExecutions(t *testing.T, h *hostProc, wf string) []execRow {
	t.Helper()
	out, err := pageExecutions(h, wf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runToEnd triggers workflow wf with context through the API and returns
// the execution once it has ended (succeeded, failed or cancelled).
func runToEnd(t *testing.T, h *hostProc, wf string, context map[string]any, within time.Duration) workflow.Execution {
	t.Helper()
	var acc api.ExecutionAccepted
	if err := h.admin().Do(bg(), http.MethodPost, "/workflows/"+wf+"/execute", map[string]any{"context": context}, &acc); err != nil {
		t.Fatalf("execute %s: %v", wf, err)
	}
	var x workflow.Execution
	eventually(t, within, wf+" to finish", func() bool {
		if err := h.admin().Do(bg(), http.MethodGet, "/executions/"+acc.ExecutionID, nil, &x); err != nil {
			t.Fatal(err)
		}
		return x.Status.Finished()
	})
	return x
}
