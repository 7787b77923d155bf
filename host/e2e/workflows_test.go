package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/heady-dev/heady/host/workflow"
)

// mailbox is a real SMTP server (the go-smtp server library) on loopback
// that keeps every message it receives.
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []mail
}

type mail struct {
	From string
	To   []string
	Data string
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return mb
}

func (m *mailbox) messages() []mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mail(nil), m.msgs...)
}

type mailSession struct {
	mb  *mailbox
	cur mail
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error { s.cur.From = from; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = string(b)
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, s.cur)
	s.mb.mu.Unlock()
	s.cur = mail{}
	return nil
}
func (s *mailSession) Reset()        { s.cur = mail{} }
func (s *mailSession) Logout() error { return nil }

// demoApp runs the example application from examples/demoapp.
type demoApp struct {
	url string
	cmd *exec.Cmd
}

func startDemoApp(t *testing.T, addr, headyURL, token, secret string) *demoApp {
	t.Helper()
	d := &demoApp{url: "http://" + addr}
	d.cmd = exec.Command(filepath.Join(binDir, "demoapp"), "--listen", addr, "--heady", headyURL,
		"--heady-token", token, "--webhook-secret", secret)
	var out bytes.Buffer
	d.cmd.Stdout, d.cmd.Stderr = &out, &out
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		_ = d.cmd.Wait()
		if t.Failed() {
			t.Logf("demoapp output:\n%s", out.String())
		}
	})
	eventually(t, 15*time.Second, "the demo app to answer", func() bool {
		resp, err := http.Get(d.url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return d
}

func (d *demoApp) post(t *testing.T, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(d.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, msg)
	}
}

func (d *demoApp) state(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get(d.url + "/api/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func count(v any) int {
	switch x := v.(type) {
	case []any:
		return len(x)
	case map[string]any:
		return len(x)
	}
	return 0
}

// TestBuiltinEventWorkflows drives on_user_register and on_content_publish
// through the demo application and checks every effect: workspace,
// permission, welcome mail on a real SMTP server, preview, search entry and
// a signed webhook.
func TestBuiltinEventWorkflows(t *testing.T) {
	t.Parallel()
	mb := startMailbox(t)
	appAddr := freePort(t)
	const secret = "content-hook-secret"
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "zz-email.hcl", fmt.Sprintf(`
plugin "email" {
  component "send" {
    smtp_addr = %q
    from      = "welcome@heady.test"
  }
}
`, mb.addr))
	h := startHost(t, hostOpts{policies: pol, args: []string{
		"--var", "app_url=http://" + appAddr,
		"--var", "content_webhook_url=http://" + appAddr + "/hooks/content",
		"--var", "webhook_secret=" + secret,
	}})
	app := startDemoApp(t, appAddr, "http://"+h.addr, h.token, secret)

	app.post(t, "/api/users", map[string]any{"user_id": "u-42", "email": "ada@example.test", "name": "Ada"})
	app.post(t, "/api/content", map[string]any{"content_id": "c-7", "title": "Hello heady", "body": "automation everywhere"})

	eventually(t, 30*time.Second, "both event workflows to succeed", func() bool {
		ok := 0
		for _, wf := range []string{"on_user_register", "on_content_publish"} {
			var page struct {
				Items []struct{ Status string } `json:"items"`
			}
			if err := h.admin().Do(bg(), http.MethodGet, "/workflows/"+wf+"/executions", nil, &page); err != nil {
				t.Fatal(err)
			}
			for _, x := range page.Items {
				if x.Status == "failed" {
					t.Fatalf("%s failed", wf)
				}
				if x.Status == "succeeded" {
					ok++
				}
			}
		}
		return ok == 2
	})
	st := app.state(t)
	if count(st["workspaces"]) != 1 || count(st["permissions"]) != 1 {
		t.Fatalf("workspace/permission not created: %v", st)
	}
	if !strings.Contains(mustJSON(st["permissions"]), `"owner"`) {
		t.Fatalf("permission is not owner: %v", st["permissions"])
	}
	if count(st["previews"]) != 1 || count(st["search_entries"]) != 1 {
		t.Fatalf("preview/search entry missing: %v", st)
	}
	hooks, _ := st["webhooks_received"].([]any)
	if len(hooks) != 1 || !strings.Contains(mustJSON(hooks[0]), `"signature_valid":true`) {
		t.Fatalf("signed webhook not received: %v", st["webhooks_received"])
	}
	resp, err := http.Get(app.url + "/api/search?q=heady")
	if err != nil {
		t.Fatal(err)
	}
	var sr struct {
		Results []any `json:"results"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&sr)
	resp.Body.Close()
	if len(sr.Results) != 1 {
		t.Fatalf("search for the published title found %d entries", len(sr.Results))
	}
	msgs := mb.messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "ada@example.test" || !strings.Contains(msgs[0].Data, "Welcome") {
		t.Fatalf("welcome mail: %+v", msgs)
	}
}

// TestBuiltinScheduledWorkflows runs the four scheduled built-in workflows
// and checks their effects; auto_backup also fires from a shortened
// schedule.
func TestBuiltinScheduledWorkflows(t *testing.T) {
	t.Parallel()
	h := startHost(t, hostOpts{args: []string{"--var", "backup_schedule=*/2 * * * * *", "--var", "backups_to_keep=2"}})
	run := func(wf string) workflow.Execution {
		t.Helper()
		x := runToEnd(t, h, wf, map[string]any{"manual": true}, 60*time.Second)
		if x.Status != workflow.StatusSucceeded {
			t.Fatalf("%s: %s: %s", wf, x.Status, mustJSON(x))
		}
		return x
	}
	output := func(x workflow.Execution, step string) map[string]any {
		for _, s := range x.Steps {
			if s.Name == step {
				out, _ := s.Output.(map[string]any)
				return out
			}
		}
		t.Fatalf("no step %s in %s", step, mustJSON(x))
		return nil
	}
	t.Run("health_check", func(t *testing.T) {
		x := run("health_check")
		if out := output(x, "checks"); out["healthy"] != true {
			t.Fatalf("checks: %v", out)
		}
	})
	t.Run("auto_optimize", func(t *testing.T) { run("auto_optimize") })
	t.Run("auto_scale_check", func(t *testing.T) { run("auto_scale_check") })
	t.Run("auto_backup on its schedule, verified and pruned", func(t *testing.T) {
		eventually(t, 30*time.Second, "three scheduled backups", func() bool {
			var page struct {
				Items []execRow `json:"items"`
			}
			if err := h.admin().Do(bg(), http.MethodGet, "/workflows/auto_backup/executions?status=succeeded", nil, &page); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, x := range page.Items {
				if x.Trigger.Kind == "schedule" {
					n++
				}
			}
			return n >= 3
		})
		files, _ := filepath.Glob(filepath.Join(h.data, "backups", "heady-*.bak"))
		if len(files) == 0 || len(files) > 3 {
			t.Fatalf("backups on disk: %v (want at most backups_to_keep plus one in flight)", files)
		}
		fi, err := os.Stat(files[len(files)-1])
		if err != nil || fi.Size() == 0 {
			t.Fatalf("backup file: %v %v", fi, err)
		}
	})
}
