package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
)

// Version is the plugin's version.
const Version = "1.0.0"

const prefix = "plugin exec: run"

// ConfigSchema is the configuration of exec.run.
var ConfigSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "allowed_commands", Type: sdk.TypeStringList, Description: "When set, argv[0] must equal one of these exactly.", Example: `["/usr/bin/pg_dump", "systemctl"]`},
	{Name: "timeout", Type: sdk.TypeDuration, Default: "60s", Description: "Default deadline of a command when the step gives none.", Example: `"5m"`},
	{Name: "max_output_bytes", Type: sdk.TypeNumber, Default: 1 << 20, Description: "Default cap on the bytes kept of stdout and of stderr each.", Example: "65536"},
	{Name: "retryable_exit_codes", Type: sdk.TypeNumberList, Description: "Exit codes that mark the failure retryable (others are permanent).", Example: "[75]"},
	{Name: "inherit_env", Type: sdk.TypeBool, Default: false, Description: "Pass the plugin's whole environment to commands; by default only PATH, HOME, LANG, LC_ALL, TZ and TMPDIR.", Example: "true"},
}}

// InputSchema is the inputs of exec.run.
var InputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "command", Type: sdk.TypeStringList, Required: true, Description: "The argument vector; argv[0] is looked up in PATH. No shell is involved.", Example: `["pg_dump", "--format=custom", "app"]`},
	{Name: "env", Type: sdk.TypeStringMap, Description: "Extra environment variables.", Example: `{ PGHOST = "127.0.0.1" }`},
	{Name: "dir", Type: sdk.TypeString, Description: "Working directory.", Example: `"/var/lib/app"`},
	{Name: "timeout", Type: sdk.TypeDuration, Description: "Deadline; on expiry the whole process group is killed and the step fails with code timeout.", Example: `"30s"`},
	{Name: "max_output_bytes", Type: sdk.TypeNumber, Description: "Cap on the bytes kept of stdout and of stderr each.", Example: "4096"},
	{Name: "stdin", Type: sdk.TypeString, Description: "Standard input.", Example: `"yes\n"`},
}}

// OutputSchema documents the outputs of exec.run.
var OutputSchema = sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "exit_code", Type: sdk.TypeNumber, Description: "Exit status (-1 when killed by a signal)."},
	{Name: "stdout", Type: sdk.TypeString, Description: "Standard output, capped."},
	{Name: "stderr", Type: sdk.TypeString, Description: "Standard error, capped."},
	{Name: "stdout_truncated", Type: sdk.TypeBool, Description: "Whether stdout was cut."},
	{Name: "stderr_truncated", Type: sdk.TypeBool, Description: "Whether stderr was cut."},
	{Name: "duration_ms", Type: sdk.TypeNumber, Description: "Wall time of the command."},
}}

// Options are the sdk.Serve options of heady-plugin-exec.
func Options() []sdk.Option {
	return []sdk.Option{
		sdk.WithName("exec"),
		sdk.WithVersion(Version),
		sdk.WithDescription("Runs local commands from workflow steps, without a shell."),
		sdk.WithAction(sdk.Spec{
			Name:        "run",
			Description: "Runs a command (argv, no shell); a non-zero exit fails the step with code exit_<n>, a timeout kills the process group.",
			Config:      ConfigSchema,
			Inputs:      InputSchema,
			Outputs:     OutputSchema,
		}, func() sdk.Action { return &Run{} }),
	}
}

// Run is the exec.run action.
type Run struct {
	allowed    []string
	timeout    time.Duration
	maxOutput  int
	retryCodes []int
	inheritEnv bool
}

// Configure reads the configuration.
func (r *Run) Configure(_ context.Context, config map[string]any) error {
	c := sdk.Config(config)
	r.allowed = c.Strings("allowed_commands")
	r.timeout = c.Duration("timeout")
	r.maxOutput = c.Int("max_output_bytes")
	r.inheritEnv = c.Bool("inherit_env")
	for _, n := range c.Numbers("retryable_exit_codes") {
		r.retryCodes = append(r.retryCodes, int(n))
	}
	if r.timeout <= 0 {
		return errors.New("plugin exec: configure: timeout must be positive")
	}
	if r.maxOutput < 0 {
		return errors.New("plugin exec: configure: max_output_bytes must not be negative")
	}
	return nil
}

var baseEnv = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"}

// Run runs the command.
func (r *Run) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	in, err := pluginutil.Inputs(prefix, InputSchema, req.Inputs)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	argv := in.Strings("command")
	if len(argv) == 0 || argv[0] == "" {
		return sdk.ActionResponse{}, pluginutil.Invalid("%s: command is empty", prefix)
	}
	if len(r.allowed) > 0 && !slices.Contains(r.allowed, argv[0]) {
		return sdk.ActionResponse{}, &sdk.Error{Code: "command_not_allowed", Message: fmt.Sprintf("%s: %q is not in allowed_commands", prefix, argv[0])}
	}
	timeout := r.timeout
	if in.Has("timeout") {
		timeout = in.Duration("timeout")
	}
	maxOut := r.maxOutput
	if in.Has("max_output_bytes") {
		maxOut = in.Int("max_output_bytes")
	}
	if timeout <= 0 || maxOut < 0 {
		return sdk.ActionResponse{}, pluginutil.Invalid("%s: timeout must be positive and max_output_bytes not negative", prefix)
	}
	if d := in.String("dir"); d != "" {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return sdk.ActionResponse{}, pluginutil.Invalid("%s: dir %q is not a directory", prefix, d)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = in.String("dir")
	cmd.Env = r.env(in.StringMap("env"))
	if in.Has("stdin") {
		cmd.Stdin = strings.NewReader(in.String("stdin"))
	}
	stdout := &capped{max: maxOut}
	stderr := &capped{max: maxOut}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	setProcessGroup(cmd)
	// If a background child keeps the output pipes open after the group
	// is killed, stop waiting for it.
	cmd.WaitDelay = 2 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		code := "start_failed"
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = "command_not_found"
		}
		return sdk.ActionResponse{}, &sdk.Error{Code: code, Message: fmt.Sprintf("%s: start %s: %v", prefix, argv[0], err), Err: err}
	}
	waitErr := cmd.Wait()
	// Whatever the command left running in its group goes with it.
	killGroup(cmd)
	dur := time.Since(start)
	exitCode := -1
	if cmd.ProcessState != nil {
		exitCode = cmd.ProcessState.ExitCode()
	}
	out := map[string]any{
		"exit_code":        exitCode,
		"stdout":           stdout.String(),
		"stderr":           stderr.String(),
		"stdout_truncated": stdout.truncated,
		"stderr_truncated": stderr.truncated,
		"duration_ms":      dur.Milliseconds(),
	}
	resp := sdk.ActionResponse{Outputs: out}
	resp.Log(slog.LevelInfo, fmt.Sprintf("%s exited %d after %dms", argv[0], exitCode, dur.Milliseconds()))
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return resp, &sdk.Error{Code: sdk.CodeTimeout, Message: fmt.Sprintf("%s: %s: killed after %s", prefix, argv[0], timeout), Retryable: true}
	case errors.Is(ctx.Err(), context.Canceled):
		return resp, &sdk.Error{Code: sdk.CodeCanceled, Message: fmt.Sprintf("%s: %s: canceled", prefix, argv[0]), Retryable: true}
	case exitCode != 0:
		msg := fmt.Sprintf("%s: %s exited with status %d", prefix, argv[0], exitCode)
		if tail := lastLine(stderr.String()); tail != "" {
			msg += ": " + tail
		}
		return resp, &sdk.Error{Code: "exit_" + strconv.Itoa(exitCode), Message: msg, Retryable: slices.Contains(r.retryCodes, exitCode)}
	case waitErr != nil && !errors.Is(waitErr, exec.ErrWaitDelay):
		return resp, &sdk.Error{Code: sdk.CodeError, Message: fmt.Sprintf("%s: %s: %v", prefix, argv[0], waitErr), Retryable: true, Err: waitErr}
	}
	return resp, nil
}

func (r *Run) env(extra map[string]string) []string {
	var env []string
	if r.inheritEnv {
		env = os.Environ()
	} else {
		for _, k := range baseEnv {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Close does nothing: commands do not outlive their call.
func (r *Run) Close(context.Context) error { return nil }

// capped keeps the first max bytes written and counts the rest.
type capped struct {
	max       int
	buf       []byte
	truncated bool
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.max - len(c.buf)
	if room >= len(p) {
		c.buf = append(c.buf, p...)
	} else {
		if room > 0 {
			c.buf = append(c.buf, p[:room]...)
		}
		c.truncated = true
	}
	return len(p), nil
}

func (c *capped) String() string { return string(c.buf) }

var _ sdk.Action = (*Run)(nil)
