package e2e

import (
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/client"
)

const echoWorkflow = `
workflow "echo" {
  step "echo" {
    action = "noop.ok"
    input {
      value = event.data
    }
  }
}
`

type pluginStatus struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	PID       int    `json:"pid"`
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error"`
}

func pluginByName(t *testing.T, h *hostProc, name string) pluginStatus {
	t.Helper()
	var page struct {
		Items []pluginStatus `json:"items"`
	}
	if err := h.admin().Do(bg(), http.MethodGet, "/plugins", nil, &page); err != nil {
		t.Fatal(err)
	}
	for _, p := range page.Items {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("plugin %s not listed: %+v", name, page.Items)
	return pluginStatus{}
}

// runEcho runs the echo workflow and returns its final status.
func runEcho(t *testing.T, h *hostProc) string {
	t.Helper()
	return string(runToEnd(t, h, "echo", map[string]any{"n": 1}, 30*time.Second).Status)
}

func auditActions(t *testing.T, h *hostProc, query string) []map[string]any {
	t.Helper()
	var page struct {
		Items []map[string]any `json:"items"`
	}
	if err := h.admin().Do(bg(), http.MethodGet, "/audit/logs?"+query, nil, &page); err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func TestPluginCrashIsRestartedAndAudited(t *testing.T) {
	t.Parallel()
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "echo.hcl", echoWorkflow)
	h := startHost(t, hostOpts{policies: pol})
	if s := runEcho(t, h); s != "succeeded" {
		t.Fatalf("first run: %s", s)
	}
	before := pluginByName(t, h, "noop")
	if before.State != "running" || before.PID == 0 {
		t.Fatalf("noop after a call: %+v", before)
	}
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the plugin to be restarted", func() bool {
		p := pluginByName(t, h, "noop")
		return p.Restarts >= 1 && p.State == "running" && p.PID != before.PID
	})
	if s := runEcho(t, h); s != "succeeded" {
		t.Fatalf("run after the restart: %s", s)
	}
	var crashed, restarted bool
	for _, e := range auditActions(t, h, "resource_type=plugin&resource_id=noop&limit=100") {
		crashed = crashed || e["action"] == "plugin.crashed"
		restarted = restarted || e["action"] == "plugin.restarted"
	}
	if !crashed || !restarted {
		t.Fatalf("audit trail lacks the crash (%v) or the restart (%v)", crashed, restarted)
	}
}

func TestHostKill9LeavesNoPlugins(t *testing.T) {
	t.Parallel()
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "echo.hcl", echoWorkflow)
	h := startHost(t, hostOpts{policies: pol})
	if s := runEcho(t, h); s != "succeeded" {
		t.Fatalf("run: %s", s)
	}
	pid := pluginByName(t, h, "noop").PID
	if pid == 0 {
		t.Fatal("no plugin pid")
	}
	h.kill9()
	eventually(t, 10*time.Second, "the plugin process to exit after its host was killed", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
}

func TestPluginChecksumMismatchIsRefused(t *testing.T) {
	t.Parallel()
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "echo.hcl", echoWorkflow+`
plugin "noop" {
  sha256 = "`+strings.Repeat("ab", 32)+`"
}
`)
	h := startHost(t, hostOpts{policies: pol})
	if s := runEcho(t, h); s != "failed" {
		t.Fatalf("a refused plugin ran: %s", s)
	}
	if p := pluginByName(t, h, "noop"); p.State != "refused" || !strings.Contains(p.LastError, "checksum") {
		t.Fatalf("noop: %+v", p)
	}
	var refused bool
	for _, e := range auditActions(t, h, "resource_type=plugin&resource_id=noop&limit=100") {
		refused = refused || (e["action"] == "plugin.refused" && e["security"] == true)
	}
	if !refused {
		t.Fatal("no security event for the refused plugin")
	}
}

func TestPluginConfigTypoHasLocation(t *testing.T) {
	t.Parallel()
	const bad = `
plugin "http" {
  component "request" {
    timout = "5s"
  }
}
`
	t.Run("heady validate", func(t *testing.T) {
		dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
		writePolicy(t, dir, "zz-plugins.hcl", bad)
		out, err := exec.Command(filepath.Join(binDir, "heady"), "validate", "--plugins", filepath.Join(binDir, "plugins"), dir).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("validate: %v\n%s", err, out)
		}
		if !regexp.MustCompile(`zz-plugins\.hcl:4:5: error: .*\n.*"timout"`).Match(out) {
			t.Fatalf("no FILE:LINE:COL naming the attribute:\n%s", out)
		}
	})
	t.Run("heal block typo", func(t *testing.T) {
		dir := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
		writePolicy(t, dir, "zz-heal.hcl", `
check "port" {
  type    = "tcp"
  address = "127.0.0.1:9"
  heal "restart" {
    servise = "api"
  }
}
`)
		out, err := exec.Command(filepath.Join(binDir, "heady"), "validate", "--plugins", filepath.Join(binDir, "plugins"), dir).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("validate: %v\n%s", err, out)
		}
		if !regexp.MustCompile(`zz-heal\.hcl:6:5: error: .*\n.*"servise"`).Match(out) {
			t.Fatalf("no FILE:LINE:COL naming the heal option:\n%s", out)
		}
	})
	t.Run("reload", func(t *testing.T) {
		pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
		h := startHost(t, hostOpts{policies: pol})
		writePolicy(t, pol, "zz-plugins.hcl", bad)
		var body struct {
			Reload struct {
				Valid       bool `json:"valid"`
				Diagnostics []struct {
					File   string `json:"file"`
					Line   int    `json:"line"`
					Column int    `json:"column"`
					Detail string `json:"detail"`
				} `json:"diagnostics"`
			} `json:"reload"`
		}
		err := h.admin().Do(bg(), http.MethodPost, "/reload", nil, &body)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 422 {
			t.Fatalf("reload with a plugin typo: %v", err)
		}
		found := false
		for _, d := range body.Reload.Diagnostics {
			found = found || (strings.HasSuffix(d.File, "zz-plugins.hcl") && d.Line == 4 && d.Column == 5 && strings.Contains(d.Detail, "timout"))
		}
		if !found {
			t.Fatalf("diagnostics: %+v", body.Reload.Diagnostics)
		}
	})
}
