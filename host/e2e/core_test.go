// Package e2e holds end-to-end tests: they start the real heady binary with
// real plugin binaries, a real Badger data directory and the real API on
// loopback.
package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/client"
	"github.com/heady-dev/heady/host/store"
)

func TestDefaultPoliciesStartAndStatusShape(t *testing.T) {
	h := startHost(t, hostOpts{})
	resp, err := http.Get("http://" + h.addr + "/api/v1/automation/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"workflows":    {"active", "triggers"},
		"scaling":      {"cpu", "memory", "active_nodes"},
		"healing":      {"overall_status", "components", "stats"},
		"intelligence": {"learned_patterns", "pending_optimizations", "high_impact_suggestions"},
		"discovery":    {"services"},
	}
	if len(st) != len(want) {
		t.Errorf("status has sections %v, want exactly %v", keys(st), want)
	}
	for sec, fields := range want {
		for _, f := range fields {
			if _, ok := st[sec][f]; !ok {
				t.Errorf("status.%s.%s missing: %v", sec, f, st[sec])
			}
		}
	}
	if n, _ := st["workflows"]["active"].(float64); n < 6 {
		t.Errorf("workflows.active = %v, want the six built-in workflows", st["workflows"]["active"])
	}
	for _, line := range []string{"Database initialized successfully", "Automation Systems: ACTIVE"} {
		if !strings.Contains(h.out(), line) {
			t.Errorf("start-up output lacks %q:\n%s", line, h.out())
		}
	}
	if err := h.stop(); err != nil {
		t.Fatalf("SIGTERM: heady did not exit cleanly: %v", err)
	}
	if !strings.Contains(h.out(), "Heady stopped") {
		t.Errorf("no clean shutdown line:\n%s", h.out())
	}
}

func keys[M ~map[string]V, V any](m M) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func writePolicy(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAuthRolesLockoutAndHashedTokens(t *testing.T) {
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	writePolicy(t, pol, "zz-auth.hcl", `
auth {
  lockout_threshold = 3
  lockout_window    = "1m"
  lockout_duration  = "1m"
}
`)
	h := startHost(t, hostOpts{policies: pol})
	ctx := bg()
	var created struct {
		Token string         `json:"token"`
		Info  map[string]any `json:"info"`
	}
	if err := h.admin().Do(ctx, http.MethodPost, "/tokens", map[string]any{"name": "viewer", "role": "reader"}, &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Token, "hdy_") {
		t.Fatalf("token %q", created.Token)
	}
	var op struct {
		Token string `json:"token"`
	}
	if err := h.admin().Do(ctx, http.MethodPost, "/tokens", map[string]any{"name": "deployer", "role": "operator"}, &op); err != nil {
		t.Fatal(err)
	}

	status := func(c *client.Client, method, path string) int {
		err := c.Do(ctx, method, path, nil, nil)
		var ae *client.APIError
		if errors.As(err, &ae) {
			return ae.Status
		}
		if err != nil {
			t.Fatal(err)
		}
		return 200
	}
	t.Run("write without token is 401", func(t *testing.T) {
		if got := status(h.client(""), http.MethodPost, "/reload"); got != 401 {
			t.Fatalf("got %d", got)
		}
	})
	t.Run("reader token on a write is 403", func(t *testing.T) {
		if got := status(h.client(created.Token), http.MethodPost, "/reload"); got != 403 {
			t.Fatalf("got %d", got)
		}
	})
	t.Run("operator cannot manage tokens", func(t *testing.T) {
		if got := status(h.client(op.Token), http.MethodGet, "/tokens"); got != 403 {
			t.Fatalf("got %d", got)
		}
	})
	t.Run("operator may reload", func(t *testing.T) {
		if got := status(h.client(op.Token), http.MethodPost, "/reload"); got != 200 {
			t.Fatalf("got %d", got)
		}
	})
	t.Run("anonymous read on loopback", func(t *testing.T) {
		if got := status(h.client(""), http.MethodGet, "/status"); got != 200 {
			t.Fatalf("got %d", got)
		}
	})
	t.Run("repeated failures lock the source out with 429", func(t *testing.T) {
		bad := h.client("hdy_0000000000000bad_0000000000000000000000000000000000000000000000000000000000000000")
		for i := 0; i < 3; i++ {
			if got := status(bad, http.MethodGet, "/status"); got != 401 {
				t.Fatalf("attempt %d: got %d, want 401", i, got)
			}
		}
		resp, err := bad.Raw(ctx, http.MethodGet, "/api/v1/automation/status", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("after threshold: %d Retry-After=%q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		// Even a valid token is refused while the source is locked out.
		if got := status(h.admin(), http.MethodGet, "/status"); got != 429 {
			t.Fatalf("valid token while locked: %d", got)
		}
	})
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	t.Run("security events were recorded", func(t *testing.T) {
		h2 := startHost(t, hostOpts{policies: pol, data: h.data})
		var page struct {
			Items []map[string]any `json:"items"`
		}
		if err := h2.admin().Do(ctx, http.MethodGet, "/audit/security-events?limit=200", nil, &page); err != nil {
			t.Fatal(err)
		}
		var lockout, denied int
		for _, e := range page.Items {
			switch e["action"] {
			case "auth.lockout":
				lockout++
			}
			if e["outcome"] == "denied" {
				denied++
			}
		}
		if lockout != 1 || denied < 5 {
			t.Fatalf("security events: lockout=%d denied=%d in %d items", lockout, denied, len(page.Items))
		}
		if err := h2.stop(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("token strings appear nowhere in the data directory", func(t *testing.T) {
		secrets := []string{created.Token, op.Token, testAdminToken}
		for _, tok := range []string{created.Token, op.Token, testAdminToken} {
			parts := strings.Split(tok, "_")
			secrets = append(secrets, parts[len(parts)-1])
		}
		err := filepath.WalkDir(h.data, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s contains a token secret", p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestBadRequestsNameTheField(t *testing.T) {
	h := startHost(t, hostOpts{})
	cases := []struct {
		name, body, field string
	}{
		{"wrong type", `{"name": 5, "role": "reader"}`, "name"},
		{"unknown field", `{"name": "x", "role": "reader", "rol": "admin"}`, "rol"},
		{"bad enum", `{"name": "x", "role": "root"}`, "role"},
		{"malformed", `{"name": `, "body"},
		{"bad ttl", `{"name": "x", "role": "reader", "ttl": "soon"}`, "ttl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr+"/api/v1/automation/tokens", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+h.token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var env struct {
				Error struct {
					Code, Message, Field string
				} `json:"error"`
			}
			b, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(b, &env); err != nil {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if resp.StatusCode != 400 || env.Error.Field != tc.field || env.Error.Message == "" {
				t.Fatalf("got %d %s, want 400 naming %q", resp.StatusCode, b, tc.field)
			}
		})
	}
	t.Run("oversized body is 413", func(t *testing.T) {
		big := `{"name":"` + strings.Repeat("x", 2<<20) + `","role":"reader"}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr+"/api/v1/automation/tokens", strings.NewReader(big))
		req.Header.Set("Authorization", "Bearer "+h.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			// fasthttp may close the connection on an oversized body.
			return
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("got %d, want 413", resp.StatusCode)
		}
	})
}

func TestHotReload(t *testing.T) {
	pol := copyPolicies(t, filepath.Join(repoRoot(), "policies"))
	h := startHost(t, hostOpts{policies: pol})
	ctx := bg()
	type policies struct {
		Version string `json:"version"`
		Objects []struct {
			Kind, Name, File string
			Line             int
		} `json:"objects"`
		LastReload struct {
			Applied     bool   `json:"applied"`
			Valid       bool   `json:"valid"`
			Version     string `json:"version"`
			Diagnostics []struct {
				File    string `json:"file"`
				Line    int    `json:"line"`
				Column  int    `json:"column"`
				Summary string `json:"summary"`
			} `json:"diagnostics"`
		} `json:"last_reload"`
	}
	get := func() policies {
		var p policies
		if err := h.admin().Do(ctx, http.MethodGet, "/policies", nil, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	has := func(p policies, name string) bool {
		for _, o := range p.Objects {
			if o.Kind == "workflow" && o.Name == name {
				return true
			}
		}
		return false
	}
	v0 := get().Version

	t.Run("valid edit is applied by the file watcher", func(t *testing.T) {
		writePolicy(t, pol, "extra.hcl", `
workflow "nightly_report" {
  trigger "schedule" {
    cron = "0 3 * * *"
  }
  step "noop" {
    action = "heady.noop"
  }
}
`)
		eventually(t, 10*time.Second, "the new workflow to be loaded", func() bool { return has(get(), "nightly_report") })
		if get().Version == v0 {
			t.Fatal("version did not change")
		}
	})
	v1 := get().Version
	t.Run("invalid edit keeps the old set and reports FILE:LINE", func(t *testing.T) {
		writePolicy(t, pol, "extra.hcl", `
workflow "nightly_report" {
  trigger "schedule" {
    cron = "0 3 * * *"
  }
  step "noop" {
    actoin = "heady.noop"
  }
}
`)
		eventually(t, 10*time.Second, "the rejected reload to be reported", func() bool {
			p := get()
			return !p.LastReload.Valid && len(p.LastReload.Diagnostics) > 0
		})
		p := get()
		if p.Version != v1 || !has(p, "nightly_report") {
			t.Fatalf("old set not kept: version %s (want %s)", p.Version, v1)
		}
		found := false
		for _, d := range p.LastReload.Diagnostics {
			found = found || (strings.HasSuffix(d.File, "extra.hcl") && d.Line == 7 && d.Column == 5 && strings.Contains(d.Summary, "Unsupported argument"))
		}
		if !found {
			t.Fatalf("diagnostics %+v, want one at extra.hcl:7:5 for the misspelt attribute", p.LastReload.Diagnostics)
		}
		// The same through the API: 422 with the diagnostics.
		var body map[string]any
		err := h.admin().Do(ctx, http.MethodPost, "/reload", nil, &body)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 422 || !strings.Contains(mustJSON(body), "extra.hcl") {
			t.Fatalf("POST /reload: %v %v", err, body)
		}
	})
	t.Run("unchanged set is a no-op", func(t *testing.T) {
		writePolicy(t, pol, "extra.hcl", "# emptied\n")
		eventually(t, 10*time.Second, "the fixed set to load", func() bool { p := get(); return p.LastReload.Valid && !has(p, "nightly_report") })
		var res map[string]any
		if err := h.admin().Do(ctx, http.MethodPost, "/reload", nil, &res); err != nil {
			t.Fatal(err)
		}
		if res["applied"] != false || res["changed"] != false {
			t.Fatalf("second reload of the same set: %v", res)
		}
	})
	t.Run("reloads are audited", func(t *testing.T) {
		var page struct {
			Items []map[string]any `json:"items"`
		}
		if err := h.admin().Do(ctx, http.MethodGet, "/audit/logs?action=policy.reload&limit=100", nil, &page); err != nil {
			t.Fatal(err)
		}
		var ok, failed int
		for _, e := range page.Items {
			switch e["outcome"] {
			case "success":
				ok++
			case "failure":
				failed++
			}
		}
		if ok < 2 || failed < 2 {
			t.Fatalf("policy.reload audit entries: %d success, %d failure: %v", ok, failed, page.Items)
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestValidateCommand(t *testing.T) {
	bad := t.TempDir()
	writePolicy(t, bad, "a.hcl", `
workflow "x" {
  trigger "schedule" {
    cron = "61 * * * *"
  }
  step "s" {
    action = "heady.noop"
    timeout = "5 minutes"
  }
}
`)
	cmd := exec.Command(filepath.Join(binDir, "heady"), "validate", bad)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("validate of a bad dir: %v\n%s", err, out)
	}
	for _, re := range []string{`a\.hcl:4:\d+: error: `, `a\.hcl:8:\d+: error: `} {
		if !regexp.MustCompile(re).Match(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
	good := exec.Command(filepath.Join(binDir, "heady"), "validate", filepath.Join(repoRoot(), "policies"))
	if out, err := good.CombinedOutput(); err != nil {
		t.Fatalf("validate of the default policies: %v\n%s", err, out)
	}
}

func TestDataDirInUse(t *testing.T) {
	h := startHost(t, hostOpts{})
	cmd := exec.Command(filepath.Join(binDir, "heady"), "run", "--policies", h.policy, "--data", h.data, "--listen", freePort(t))
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("second heady on the same data dir started:\n%s", out)
	}
	if !strings.Contains(string(out), "in use by another heady (pid ") {
		t.Fatalf("unclear error:\n%s", out)
	}
}

// TestAuditSurvivesKill9 sends a burst of audited requests, kills the host
// with SIGKILL in the middle, and checks that every answered request has
// its entry and that the chain verifies after restart.
func TestAuditSurvivesKill9(t *testing.T) {
	h := startHost(t, hostOpts{})
	var answered sync.Map
	var n atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := "burst-" + string(rune('a'+w)) + "-" + strconv.Itoa(i)
				req, _ := http.NewRequest(http.MethodGet, "http://"+h.addr+"/api/v1/automation/status", nil)
				req.Header.Set("Authorization", "Bearer "+h.token)
				req.Header.Set("X-Request-Id", id)
				resp, err := hc.Do(req)
				if err != nil {
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					answered.Store(id, true)
					n.Add(1)
				}
			}
		}(w)
	}
	eventually(t, 30*time.Second, "500 answered requests", func() bool { return n.Load() >= 500 })
	h.kill9()
	close(stop)
	wg.Wait()

	h2 := startHost(t, hostOpts{policies: h.policy, data: h.data})
	resp, err := h2.admin().Raw(bg(), http.MethodGet, "/api/v1/automation/audit/export?order=asc", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	seen := map[string]bool{}
	dec := json.NewDecoder(resp.Body)
	for {
		var e struct {
			RequestID string `json:"request_id"`
		}
		if err := dec.Decode(&e); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen[e.RequestID] = true
	}
	lost := 0
	total := 0
	answered.Range(func(k, _ any) bool {
		total++
		if !seen[k.(string)] {
			lost++
		}
		return true
	})
	if lost > 0 {
		t.Fatalf("%d of %d answered requests have no audit entry after kill -9", lost, total)
	}
	var rep struct {
		OK      bool   `json:"ok"`
		Checked uint64 `json:"checked"`
		Reason  string `json:"reason"`
	}
	if err := h2.admin().Do(bg(), http.MethodGet, "/audit/verify", nil, &rep); err != nil || !rep.OK {
		t.Fatalf("verify after kill -9: %v %+v", err, rep)
	}
	if rep.Checked < uint64(total) {
		t.Fatalf("verified %d entries, fewer than the %d answered requests", rep.Checked, total)
	}
	// The CLI agrees.
	cmd := exec.Command(filepath.Join(binDir, "heady"), "audit", "verify")
	cmd.Env = append(os.Environ(), "HEADY_ADDR=http://"+h2.addr, "HEADY_TOKEN="+h2.token)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "audit chain OK") {
		t.Fatalf("heady audit verify: %v\n%s", err, out)
	}
}

// TestAuditTamperIsReported alters one stored entry directly in Badger and
// checks that `heady audit verify` fails at exactly that entry.
func TestAuditTamperIsReported(t *testing.T) {
	t.Parallel()
	h := startHost(t, hostOpts{})
	for i := 0; i < 5; i++ {
		if err := h.admin().Do(bg(), http.MethodGet, "/status", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(h.data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const victim = "audit/e/00000000000000000004"
	val, err := st.Get(victim)
	if err != nil {
		t.Fatal(err)
	}
	altered := bytes.Replace(val, []byte(`"outcome":"success"`), []byte(`"outcome":"failure"`), 1)
	if bytes.Equal(altered, val) {
		t.Fatalf("entry 4 has no success outcome to alter: %s", val)
	}
	if err := st.Apply(bg(), store.Put(victim, altered)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := startHost(t, hostOpts{policies: h.policy, data: h.data})
	cmd := exec.Command(filepath.Join(binDir, "heady"), "audit", "verify")
	cmd.Env = append(os.Environ(), "HEADY_ADDR=http://"+h2.addr, "HEADY_TOKEN="+h2.token)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("verify of a tampered chain: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "BROKEN at entry 4") {
		t.Fatalf("verify did not name entry 4:\n%s", out)
	}
}
