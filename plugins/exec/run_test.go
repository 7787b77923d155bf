package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

func start(t *testing.T, cfg map[string]any) *plugintest.Plugin {
	t.Helper()
	p := plugintest.Start(t, Options()...)
	if _, err := p.Configure(context.Background(), "run", cfg); err != nil {
		t.Fatalf("configure: %v", err)
	}
	return p
}

func run(p *plugintest.Plugin, inputs map[string]any) (sdk.ActionResponse, *sdk.Error) {
	resp, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: "run", Inputs: inputs})
	return resp, sdk.AsError(err)
}

func TestRunSuccess(t *testing.T) {
	t.Setenv("HEADY_EXEC_TEST_SECRET", "do-not-leak")
	p := start(t, nil)
	plugintest.CheckManifest(t, p.Manifest)
	dir := t.TempDir()
	real, _ := filepath.EvalSymlinks(dir)
	tests := []struct {
		name       string
		in         map[string]any
		wantOut    string
		notInOut   string
		truncated  bool
		wantStderr string
	}{
		{name: "echo", in: map[string]any{"command": []any{"echo", "hello"}}, wantOut: "hello\n"},
		{name: "no shell interpolation", in: map[string]any{"command": []any{"echo", "$HOME; `id` && rm -rf /"}}, wantOut: "$HOME; `id` && rm -rf /\n"},
		{name: "stdin", in: map[string]any{"command": []any{"cat"}, "stdin": "from stdin"}, wantOut: "from stdin"},
		{name: "env added, host env not inherited", in: map[string]any{"command": []any{"env"}, "env": map[string]any{"FOO": "bar"}}, wantOut: "FOO=bar", notInOut: "HEADY_EXEC_TEST_SECRET"},
		{name: "dir", in: map[string]any{"command": []any{"pwd"}, "dir": dir}, wantOut: real + "\n"},
		{name: "output capped", in: map[string]any{"command": []any{"head", "-c", "5000", "/dev/zero"}, "max_output_bytes": 100}, wantOut: strings.Repeat("\x00", 100), truncated: true},
		{name: "stderr captured", in: map[string]any{"command": []any{"sh", "-c", "echo warn >&2"}}, wantStderr: "warn\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := run(p, tt.in)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			o := resp.Outputs
			if o["exit_code"] != 0.0 {
				t.Fatalf("exit_code = %v", o["exit_code"])
			}
			stdout := o["stdout"].(string)
			if tt.wantOut != "" && !strings.Contains(stdout, tt.wantOut) {
				t.Fatalf("stdout = %q, want %q", stdout, tt.wantOut)
			}
			if tt.notInOut != "" && strings.Contains(stdout, tt.notInOut) {
				t.Fatalf("stdout leaks %q", tt.notInOut)
			}
			if tt.truncated && (len(stdout) != 100 || o["stdout_truncated"] != true) {
				t.Fatalf("len %d truncated %v", len(stdout), o["stdout_truncated"])
			}
			if tt.wantStderr != "" && o["stderr"] != tt.wantStderr {
				t.Fatalf("stderr = %q", o["stderr"])
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	p := start(t, map[string]any{"retryable_exit_codes": []any{75}})
	tests := []struct {
		name      string
		in        map[string]any
		code      string
		retryable bool
		msg       string
	}{
		{"exit code", map[string]any{"command": []any{"sh", "-c", "echo oops >&2; exit 3"}}, "exit_3", false, "oops"},
		{"retryable exit code", map[string]any{"command": []any{"sh", "-c", "exit 75"}}, "exit_75", true, "status 75"},
		{"not found", map[string]any{"command": []any{"heady-no-such-command-xyz"}}, "command_not_found", false, "heady-no-such-command-xyz"},
		{"empty command", map[string]any{"command": []any{}}, sdk.CodeInvalid, false, "empty"},
		{"command as string", map[string]any{"command": "echo hi"}, sdk.CodeInvalid, false, "command"},
		{"bad dir", map[string]any{"command": []any{"true"}, "dir": "/nonexistent-dir-xyz"}, sdk.CodeInvalid, false, "nonexistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(p, tt.in)
			if err == nil || err.Code != tt.code || err.Retryable != tt.retryable || !strings.Contains(err.Message, tt.msg) {
				t.Fatalf("err = %#v, want %s retryable=%v containing %q", err, tt.code, tt.retryable, tt.msg)
			}
		})
	}
	t.Run("allow list", func(t *testing.T) {
		p := start(t, map[string]any{"allowed_commands": []any{"echo"}})
		if _, err := run(p, map[string]any{"command": []any{"echo", "ok"}}); err != nil {
			t.Fatalf("allowed command refused: %v", err)
		}
		_, err := run(p, map[string]any{"command": []any{"/bin/echo", "ok"}})
		if err == nil || err.Code != "command_not_allowed" || err.Retryable {
			t.Fatalf("err = %#v", err)
		}
	})
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	p := start(t, nil)
	start := time.Now()
	// The shell starts a background sleep in its own group, prints its pid
	// and waits: the timeout must kill both.
	resp, err := run(p, map[string]any{"command": []any{"sh", "-c", "sleep 30 & echo $!; wait"}, "timeout": "300ms"})
	if err == nil || err.Code != sdk.CodeTimeout || !err.Retryable {
		t.Fatalf("err = %#v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("took %s", el)
	}
	pid, perr := strconv.Atoi(strings.TrimSpace(resp.Outputs["stdout"].(string)))
	if perr != nil {
		t.Fatalf("stdout %q: %v", resp.Outputs["stdout"], perr)
	}
	waitDead(t, pid)

	// A background child left behind by a command that exits is killed too.
	resp, err = run(p, map[string]any{"command": []any{"sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!"}})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	pid, _ = strconv.Atoi(strings.TrimSpace(resp.Outputs["stdout"].(string)))
	if pid == 0 {
		t.Fatalf("stdout %q", resp.Outputs["stdout"])
	}
	waitDead(t, pid)
}

func TestConfigure(t *testing.T) {
	p := plugintest.Start(t, Options()...)
	for name, cfg := range map[string]map[string]any{
		"zero timeout":    {"timeout": "0s"},
		"negative output": {"max_output_bytes": -1},
		"unknown":         {"allowed": []any{"x"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := p.Configure(context.Background(), "run", cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRunBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := plugintest.Build(t, ".")
	plugintest.CheckManifest(t, plugintest.Describe(t, bin))
	p := plugintest.StartBinary(t, bin)
	if _, err := p.Configure(context.Background(), "run", nil); err != nil {
		t.Fatal(err)
	}
	resp, err := run(p, map[string]any{"command": []any{"echo", "from", "binary"}})
	if err != nil || resp.Outputs["stdout"] != "from binary\n" {
		t.Fatalf("resp %v err %v", resp.Outputs, err)
	}
}
