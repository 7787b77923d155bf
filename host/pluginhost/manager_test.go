package pluginhost

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/sdk"
)

func TestDiscover(t *testing.T) {
	m, _, _ := newManager(t, nil)
	bins, err := m.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range bins {
		names = append(names, b.Name)
	}
	if !slices.Equal(names, []string{"greeter", "noop", "testp"}) {
		t.Fatalf("discovered %v", names)
	}
	man, err := m.Describe(context.Background(), bins[2].Path)
	if err != nil {
		t.Fatal(err)
	}
	if man.Name != "testp" || man.SDKVersion != sdk.Version || len(man.Components) != 7 {
		t.Fatalf("manifest = %+v", man)
	}
	ci, ok := m.Component("testp.echo")
	if !ok || ci.Kind != sdk.KindAction || len(ci.Config.Attributes) != 5 {
		t.Fatalf("component = %+v, %v", ci, ok)
	}
	if _, ok := m.Component("testp.nope"); ok {
		t.Fatal("unknown component found")
	}
	if st := statusOf(m, "testp"); st.State != StateIdle {
		t.Fatalf("describing started the plugin: %+v", st)
	}
}

func TestValidateAndApplyReportPositions(t *testing.T) {
	src := `plugin "testp" {
  component "echo" {
    prefix = "hi "
    tims   = 2
  }
  component "ecko" {
  }
}
`
	plugins := parsePlugins(t, src)
	m, rec, _ := newManager(t, nil)
	check := func(t *testing.T, diags hcl.Diagnostics) {
		t.Helper()
		var got []string
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				got = append(got, diagPos(d)+" "+d.Summary+": "+d.Detail)
			}
		}
		if len(got) != 2 {
			t.Fatalf("errors = %q", got)
		}
		if !strings.HasPrefix(got[0], "policy.hcl:4:5 Unsupported argument") || !strings.Contains(got[0], `"tims"`) || !strings.Contains(got[0], `Did you mean "times"?`) {
			t.Errorf("error 0 = %q", got[0])
		}
		if !strings.HasPrefix(got[1], "policy.hcl:6:3 Unknown plugin component") || !strings.Contains(got[1], `Did you mean "echo"?`) {
			t.Errorf("error 1 = %q", got[1])
		}
	}
	t.Run("validate", func(t *testing.T) { check(t, m.Validate(plugins)) })
	t.Run("apply", func(t *testing.T) {
		check(t, m.Apply(context.Background(), plugins))
		if len(m.List()) != 0 {
			t.Fatalf("an invalid policy changed the plugin set: %+v", m.List())
		}
		if len(rec.kinds("testp")) != 0 {
			t.Fatalf("a plugin was started: %v", rec.kinds("testp"))
		}
	})
}

func TestApplyConfigureAndReconfigure(t *testing.T) {
	m, rec, _ := newManager(t, nil)
	ctx := context.Background()
	apply := func(prefix string) {
		t.Helper()
		src := fmt.Sprintf("plugin \"testp\" {\n  component \"echo\" {\n    prefix = %q\n    loud = true\n  }\n}\n", prefix)
		if diags := m.Apply(ctx, parsePlugins(t, src)); diags.HasErrors() {
			t.Fatal(diags)
		}
	}
	apply("a:")
	st := statusOf(m, "testp")
	if st.State != StateIdle || len(st.Components) != 7 || st.Version != "0.0.1" {
		t.Fatalf("status after apply = %+v", st)
	}
	if st := statusOf(m, "noop"); st.State != StateIdle || len(st.Components) != 1 {
		t.Fatalf("noop (no block) status = %+v", st)
	}
	resp, err := m.RunAction(ctx, "testp.echo", sdk.ActionRequest{Inputs: map[string]any{"msg": "x"}, IdempotencyKey: "k1", Attempt: 2})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Outputs["msg"] != "A:X" || resp.Outputs["timeout"] != "1s" || resp.Outputs["idempotency_key"] != "k1" || resp.Outputs["attempt"] != 2.0 {
		t.Fatalf("outputs = %v", resp.Outputs)
	}
	pid := int(resp.Outputs["pid"].(float64))
	if st := statusOf(m, "testp"); st.State != StateRunning || st.PID != pid || st.SHA256 == "" {
		t.Fatalf("status = %+v, plugin pid %d", st, pid)
	}
	apply("b:") // config change: no restart
	resp, err = m.RunAction(ctx, "testp.echo", sdk.ActionRequest{Inputs: map[string]any{"msg": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Outputs["msg"] != "B:X" || int(resp.Outputs["pid"].(float64)) != pid {
		t.Fatalf("after reconfigure outputs = %v (pid was %d)", resp.Outputs, pid)
	}
	apply("b:") // unchanged
	if got := rec.kinds("testp"); !slices.Equal(got, []LifecycleKind{EventStarted}) {
		t.Fatalf("lifecycle = %v, want one start", got)
	}
}

func TestComponentKinds(t *testing.T) {
	m, _, _ := newManager(t, nil)
	ctx := context.Background()
	t.Run("heal", func(t *testing.T) {
		oc, err := m.Heal(ctx, "testp.fix", sdk.Incident{ID: "i1", Check: "web", Attempt: 2})
		if err != nil {
			t.Fatal(err)
		}
		if !oc.Healed || oc.Message != "fixed web" || oc.Details["attempt"] != 2.0 || len(oc.Diagnostics) != 1 || oc.Diagnostics[0].Severity != sdk.SeverityWarning {
			t.Fatalf("outcome = %+v", oc)
		}
	})
	t.Run("scale", func(t *testing.T) {
		n, _, err := m.ScaleCurrent(ctx, "testp.pool", sdk.Target{Name: "web"})
		if err != nil || n != 2 {
			t.Fatalf("current = %d, %v", n, err)
		}
		r, err := m.Scale(ctx, "testp.pool", sdk.Target{Name: "web"}, 5)
		if err != nil || r.Current != 5 || r.Message != "scaled web" {
			t.Fatalf("scale = %+v, %v", r, err)
		}
	})
	t.Run("scan", func(t *testing.T) {
		svcs, _, err := m.Scan(ctx, "testp.scan", sdk.Scope{Name: "lan", Targets: []string{"127.0.0.1", "::1"}})
		if err != nil || len(svcs) != 2 || svcs[1].Address != "::1" {
			t.Fatalf("scan = %+v, %v", svcs, err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, call, code, msg string
		}{
			{"unknown plugin", "nope.x", sdk.CodeInvalid, "plugin nope: not installed"},
			{"bad name", "nodot", sdk.CodeInvalid, "want PLUGIN.COMPONENT"},
			{"unknown component", "testp.nope", sdk.CodeInvalid, `plugin testp: no component "nope"`},
			{"wrong kind", "testp.fix", sdk.CodeInvalid, "component fix is a healer, not a action"},
			{"permanent", "testp.echo", sdk.CodePermanent, "asked to fail"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := m.RunAction(ctx, tt.call, sdk.ActionRequest{Inputs: map[string]any{"fail": true}})
				e := sdk.AsError(err)
				if e == nil || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
					t.Fatalf("err = %#v, want code %s containing %q", e, tt.code, tt.msg)
				}
			})
		}
	})
}

func TestCallDeadline(t *testing.T) {
	m, _, _ := newManager(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.RunAction(ctx, "testp.block", sdk.ActionRequest{})
	e := sdk.AsError(err)
	if e == nil || e.Code != sdk.CodeTimeout || !e.Retryable {
		t.Fatalf("err = %#v, want a retryable timeout", e)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("deadline honoured after %s", d)
	}
	// The plugin is still usable.
	if _, err := m.RunAction(context.Background(), "testp.echo", sdk.ActionRequest{}); err != nil {
		t.Fatal(err)
	}
	// The manager's default call timeout applies without a deadline.
	m2, _, _ := newManager(t, func(o *Options) { o.CallTimeout = 200 * time.Millisecond })
	_, err = m2.RunAction(context.Background(), "testp.block", sdk.ActionRequest{})
	if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeTimeout {
		t.Fatalf("default timeout: err = %#v", e)
	}
}

func TestCrashRestart(t *testing.T) {
	m, rec, logs := newManager(t, func(o *Options) { o.RestartBackoff = 500 * time.Millisecond })
	ctx := context.Background()
	resp, err := m.RunAction(ctx, "testp.echo", sdk.ActionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	pid := int(resp.Outputs["pid"].(float64))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "crash detected", 5*time.Second, func() bool { return statusOf(m, "testp").State == StateCrashed })
	_, err = m.RunAction(ctx, "testp.echo", sdk.ActionRequest{})
	if e := sdk.AsError(err); e == nil || !strings.Contains(e.Message, "plugin testp: not running: restarting after crash (attempt 1)") || !e.Retryable {
		t.Fatalf("call while crashed: %#v", e)
	}
	waitFor(t, "restart", 10*time.Second, func() bool { return statusOf(m, "testp").State == StateRunning })
	resp, err = m.RunAction(ctx, "testp.echo", sdk.ActionRequest{})
	if err != nil {
		t.Fatalf("call after restart: %v", err)
	}
	newPID := int(resp.Outputs["pid"].(float64))
	st := statusOf(m, "testp")
	if newPID == pid || st.PID != newPID || st.Restarts != 1 {
		t.Fatalf("status = %+v, old pid %d, new pid %d", st, pid, newPID)
	}
	if got := rec.kinds("testp"); !slices.Equal(got, []LifecycleKind{EventStarted, EventCrashed, EventRestarted}) {
		t.Fatalf("lifecycle = %v", got)
	}
	if ev, _ := rec.find(EventRestarted); ev.Restarts != 1 || ev.PID != newPID {
		t.Fatalf("restarted event = %+v", ev)
	}
	if !strings.Contains(logs.String(), "plugin crashed") || !strings.Contains(logs.String(), "plugin=testp") {
		t.Fatalf("crash not logged with the plugin name:\n%s", logs.String())
	}
}

func TestRestartBudget(t *testing.T) {
	m, rec, _ := newManager(t, func(o *Options) {
		o.RestartBackoff = 20 * time.Millisecond
		o.RestartBudget = 1
	})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		waitFor(t, "running", 10*time.Second, func() bool {
			_, err := m.RunAction(ctx, "testp.echo", sdk.ActionRequest{})
			return err == nil
		})
		if err := syscall.Kill(statusOf(m, "testp").PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			waitFor(t, "restart", 10*time.Second, func() bool {
				st := statusOf(m, "testp")
				return st.State == StateRunning && st.Restarts == 1
			})
		}
	}
	waitFor(t, "failed", 10*time.Second, func() bool { return statusOf(m, "testp").State == StateFailed })
	st := statusOf(m, "testp")
	if !strings.Contains(st.LastError, "restart budget exhausted") {
		t.Fatalf("status = %+v", st)
	}
	if _, err := m.RunAction(ctx, "testp.echo", sdk.ActionRequest{}); err == nil || !strings.Contains(err.Error(), "plugin testp: failed") {
		t.Fatalf("call to failed plugin: %v", err)
	}
	if _, ok := rec.find(EventFailed); !ok {
		t.Fatalf("no failed event: %v", rec.kinds("testp"))
	}
}

func TestChecksumPin(t *testing.T) {
	ctx := context.Background()
	bad := strings.Repeat("0", 64)
	src := fmt.Sprintf("plugin \"testp\" {\n  sha256 = %q\n}\n", bad)
	t.Run("mismatch refused", func(t *testing.T) {
		m, rec, _ := newManager(t, nil)
		diags := m.Validate(parsePlugins(t, src))
		if diags.HasErrors() || len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags.Error(), "checksum mismatch") || diagPos(diags[0]) != "policy.hcl:1:1" {
			t.Fatalf("validate = %s", diags)
		}
		if len(rec.kinds("testp")) != 0 {
			t.Fatalf("validate changed state: %v", rec.kinds("testp"))
		}
		diags = m.Apply(ctx, parsePlugins(t, src))
		if diags.HasErrors() {
			t.Fatalf("apply errors: %s", diags)
		}
		st := statusOf(m, "testp")
		if st.State != StateRefused || !strings.Contains(st.LastError, "checksum mismatch") {
			t.Fatalf("status = %+v", st)
		}
		ev, ok := rec.find(EventRefused)
		if !ok || !ev.Security || ev.SHA256 == "" || ev.SHA256 == bad {
			t.Fatalf("refused event = %+v (found %v)", ev, ok)
		}
		_, err := m.RunAction(ctx, "testp.echo", sdk.ActionRequest{})
		if err == nil || !strings.Contains(err.Error(), "plugin testp: refused: checksum mismatch") {
			t.Fatalf("call: %v", err)
		}
		if slices.Contains(rec.kinds("testp"), EventStarted) {
			t.Fatal("a refused plugin was started")
		}
		if _, err := m.RunAction(ctx, "noop.ok", sdk.ActionRequest{}); err != nil {
			t.Fatalf("other plugins still work: %v", err)
		}
	})
	t.Run("match accepted", func(t *testing.T) {
		m, _, _ := newManager(t, nil)
		sum, err := hashFile(pluginDir + "/heady-plugin-testp")
		if err != nil {
			t.Fatal(err)
		}
		good := fmt.Sprintf("plugin \"testp\" {\n  sha256 = %q\n}\n", sum)
		if diags := m.Apply(ctx, parsePlugins(t, good)); diags.HasErrors() {
			t.Fatal(diags)
		}
		if _, err := m.RunAction(ctx, "testp.echo", sdk.ActionRequest{}); err != nil {
			t.Fatal(err)
		}
		if st := statusOf(m, "testp"); !st.Pinned || st.SHA256 != sum {
			t.Fatalf("status = %+v", st)
		}
	})
}

// services is a HostServices that records calls.
type services struct {
	mu     sync.Mutex
	events []string
	runs   []string
	ops    []string
}

func (s *services) EmitEvent(_ context.Context, plugin, typ string, data map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, fmt.Sprintf("%s %s %v", plugin, typ, data))
	return nil
}

func (s *services) RunWorkflow(_ context.Context, plugin, name string, input map[string]any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = append(s.runs, fmt.Sprintf("%s %s %v", plugin, name, input))
	return "exec-42", nil
}

func (s *services) Metrics(context.Context) (map[string]float64, error) {
	return map[string]float64{"cpu": 12.5}, nil
}

func (s *services) Maintenance(_ context.Context, plugin, op string, args map[string]any) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, fmt.Sprintf("%s %s %v", plugin, op, args))
	if op != "store.gc" {
		return nil, errors.New("unknown op")
	}
	return map[string]any{"reclaimed": 1.0}, nil
}

func TestHostCallbacks(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := &services{}
	m, _, logs := newManager(t, func(o *Options) {
		o.Store = st
		o.Services = svc
	})
	resp, err := m.RunAction(context.Background(), "testp.callbacks", sdk.ActionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := resp.Outputs
	if out["k1"] != "v1" || out["missing_is_not_found"] != true || out["cpu"] != 12.5 || out["execution_id"] != "exec-42" {
		t.Fatalf("outputs = %v", out)
	}
	if keys, _ := out["keys"].([]any); len(keys) != 1 || keys[0] != "k1" {
		t.Fatalf("kv list = %v", out["keys"])
	}
	if mres, _ := out["maintenance"].(map[string]any); mres["reclaimed"] != 1.0 {
		t.Fatalf("maintenance = %v", out["maintenance"])
	}
	if v, err := st.Get(store.SpacePluginKV + "testp/k1"); err != nil || string(v) != "v1" {
		t.Fatalf("store pluginkv/testp/k1 = %q, %v", v, err)
	}
	if _, err := st.Get(store.SpacePluginKV + "testp/k2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.events) != 1 || svc.events[0] != "testp testp.hello map[n:1]" {
		t.Fatalf("events = %q", svc.events)
	}
	if len(svc.runs) != 1 || svc.runs[0] != "testp wf map[a:b]" {
		t.Fatalf("runs = %q", svc.runs)
	}
	if len(svc.ops) != 1 || svc.ops[0] != "testp store.gc map[ratio:0.5]" {
		t.Fatalf("maintenance ops = %q", svc.ops)
	}
	if l := logs.String(); !strings.Contains(l, `level=WARN msg="hello from testp" plugin=testp x=y`) {
		t.Fatalf("plugin log line missing:\n%s", l)
	}
}

func TestCloseKillsProcessGroup(t *testing.T) {
	m, rec, _ := newManager(t, nil)
	resp, err := m.RunAction(context.Background(), "testp.spawn", sdk.ActionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	pid, child := int(resp.Outputs["pid"].(float64)), int(resp.Outputs["child"].(float64))
	if !alive(pid) || !alive(child) {
		t.Fatalf("plugin %d or child %d not running", pid, child)
	}
	if errs := m.Ping(context.Background()); errs["testp"] != nil {
		t.Fatalf("ping: %v", errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plugin and its child gone", 5*time.Second, func() bool { return !alive(pid) && !alive(child) })
	if st := statusOf(m, "testp"); st.State != StateStopped {
		t.Fatalf("status = %+v", st)
	}
	if !slices.Contains(rec.kinds("testp"), EventStopped) {
		t.Fatalf("lifecycle = %v", rec.kinds("testp"))
	}
	if _, err := m.RunAction(context.Background(), "testp.echo", sdk.ActionRequest{}); err == nil {
		t.Fatal("call after close succeeded")
	}
}

// TestHostKill9 kills a host process with SIGKILL and checks that the
// plugin it started, and the child that plugin started, exit by themselves.
func TestHostKill9(t *testing.T) {
	cmd := exec.Command(hostkillBin, pluginDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read pids: %v", err)
	}
	var pid, child int
	if _, err := fmt.Sscanf(line, "%d %d", &pid, &child); err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	if !alive(pid) || !alive(child) {
		t.Fatalf("plugin %d or child %d not running", pid, child)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, "plugin and child to exit after the host was killed", 5*time.Second, func() bool { return !alive(pid) && !alive(child) })
}

func TestLogsForwarded(t *testing.T) {
	m, _, logs := newManager(t, nil)
	if _, err := m.RunAction(context.Background(), "testp.echo", sdk.ActionRequest{Inputs: map[string]any{"log": true, "msg": "m1"}}); err != nil {
		t.Fatal(err)
	}
	// A line the plugin wrote with sdk.Logger() reaches the host's log,
	// with its level, fields and the plugin's name.
	waitFor(t, "plugin log line forwarded", 5*time.Second, func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "level=WARN") && strings.Contains(l, `msg="echo asked to log"`) && strings.Contains(l, "plugin=testp") && strings.Contains(l, "_msg=m1") {
				return true
			}
		}
		return false
	})
	if !strings.Contains(logs.String(), `msg="plugin started" plugin=testp`) {
		t.Fatalf("start not logged:\n%s", logs.String())
	}
}

// TestPluginExitsWhenParentDies checks the sdk's own parent watch, without
// the parent-death signal the host sets: the plugin is started by a shell
// that is then killed with SIGKILL.
func TestPluginExitsWhenParentDies(t *testing.T) {
	cmd := exec.Command("sh", "-c", `HEADY_HOST_PID=$$ "$0" >/dev/null 2>&1 & echo $!; wait`, pluginDir+"/heady-plugin-testp")
	cmd.Env = append(os.Environ(), sdk.Handshake.MagicCookieKey+"="+sdk.Handshake.MagicCookieValue)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscanf(line, "%d", &pid); err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	// Serving: the plugin stays up while its parent lives.
	waitFor(t, "plugin serving", 5*time.Second, func() bool { return alive(pid) })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, "plugin to exit after its parent died", 5*time.Second, func() bool { return !alive(pid) })
}

func TestApplyLifecycle(t *testing.T) {
	dir := t.TempDir()
	bin := dir + "/heady-plugin-testp"
	b, err := os.ReadFile(pluginDir + "/heady-plugin-testp")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	m, rec, _ := newManager(t, func(o *Options) { o.Dirs = []string{dir} })
	ctx := context.Background()
	pidOf := func() int {
		t.Helper()
		resp, err := m.RunAction(ctx, "testp.echo", sdk.ActionRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return int(resp.Outputs["pid"].(float64))
	}
	if diags := m.Apply(ctx, nil); diags.HasErrors() {
		t.Fatal(diags)
	}
	pid1 := pidOf()
	t.Run("unchanged keeps the process", func(t *testing.T) {
		if diags := m.Apply(ctx, nil); diags.HasErrors() {
			t.Fatal(diags)
		}
		if pid := pidOf(); pid != pid1 {
			t.Fatalf("pid %d, want %d", pid, pid1)
		}
	})
	t.Run("disabled stops it", func(t *testing.T) {
		if diags := m.Apply(ctx, parsePlugins(t, "plugin \"testp\" {\n  enabled = false\n}\n")); diags.HasErrors() {
			t.Fatal(diags)
		}
		waitFor(t, "plugin stopped", 5*time.Second, func() bool { return !alive(pid1) })
		_, err := m.RunAction(ctx, "testp.echo", sdk.ActionRequest{})
		if err == nil || !strings.Contains(err.Error(), "plugin testp: disabled by policy") {
			t.Fatalf("call: %v", err)
		}
		if st := statusOf(m, "testp"); st.State != StateStopped || st.Enabled {
			t.Fatalf("status = %+v", st)
		}
	})
	t.Run("re-enabled starts on demand", func(t *testing.T) {
		if diags := m.Apply(ctx, nil); diags.HasErrors() {
			t.Fatal(diags)
		}
		if pid := pidOf(); pid == pid1 {
			t.Fatal("same pid after a stop")
		}
	})
	t.Run("rebuilt binary restarts", func(t *testing.T) {
		pid2 := pidOf()
		// Appending bytes changes the checksum; the ELF still runs. Install
		// it the way builds do: write aside, rename over.
		if err := os.WriteFile(bin+".new", append(b, []byte("rebuilt")...), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(bin+".new", bin); err != nil {
			t.Fatal(err)
		}
		if diags := m.Apply(ctx, nil); diags.HasErrors() {
			t.Fatal(diags)
		}
		if pid := pidOf(); pid == pid2 {
			t.Fatal("still the old process after the binary changed")
		}
	})
	t.Run("removed binary stops it", func(t *testing.T) {
		pid := pidOf()
		if err := os.Remove(bin); err != nil {
			t.Fatal(err)
		}
		if diags := m.Apply(ctx, nil); diags.HasErrors() {
			t.Fatal(diags)
		}
		waitFor(t, "plugin stopped", 5*time.Second, func() bool { return !alive(pid) })
		if len(m.List()) != 0 {
			t.Fatalf("list = %+v", m.List())
		}
	})
	kinds := rec.kinds("testp")
	if n := strings.Count(fmt.Sprint(kinds), "started"); n != 3 {
		t.Fatalf("lifecycle = %v, want 3 starts", kinds)
	}
}
