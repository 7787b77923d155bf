package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

func noEnv(string) (string, bool) { return "", false }

func mustLoad(t *testing.T, src string, opts LoadOptions) *Policy {
	t.Helper()
	if opts.Env == nil {
		opts.Env = noEnv
	}
	files := []SourceFile{{Path: "test.hcl", Bytes: []byte(src)}}
	p, diags := LoadFiles(files, opts)
	if diags.HasErrors() || p == nil {
		var buf bytes.Buffer
		_ = WriteDiagnostics(&buf, diags, files, false)
		t.Fatalf("unexpected diagnostics:\n%s", buf.String())
	}
	return p
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"30s", 30 * time.Second, ""},
		{"5m", 5 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"1.5h", 90 * time.Minute, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{" 10s ", 10 * time.Second, ""},
		{"0", 0, ""},
		{"", 0, "empty duration"},
		{"10", 0, "missing unit"},
		{"5x", 0, `unknown unit "x"`},
		{"10 minutes", 0, "unknown unit"},
		{"-5s", 0, "negative"},
		{"s", 0, "expected a number"},
		{"1..2s", 0, "invalid number"},
		{"999999999999d", 0, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseDuration(%q) error = %v, want containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseSchedule(t *testing.T) {
	base := time.Date(2026, 3, 1, 10, 7, 30, 0, time.UTC)
	tests := []struct {
		name    string
		spec    string
		tz      string
		want    time.Time // next activation after base
		wantErr string
	}{
		{"five fields", "0 */6 * * *", "", time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), ""},
		{"six fields with seconds", "45 7 10 * * *", "", time.Date(2026, 3, 1, 10, 7, 45, 0, time.UTC), ""},
		{"daily descriptor", "@daily", "", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), ""},
		{"hourly descriptor", "@hourly", "", time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC), ""},
		{"every", "@every 10m", "", base.Add(10 * time.Minute), ""},
		{"every days", "@every 1d", "", base.Add(24 * time.Hour), ""},
		{"timezone", "0 2 * * *", "Europe/Berlin", time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC), ""},
		{"out of range", "61 * * * *", "", time.Time{}, "above maximum"},
		{"too few fields", "* *", "", time.Time{}, "expected 5 to 6 fields"},
		{"bad descriptor", "@fortnightly", "", time.Time{}, "unrecognized descriptor"},
		{"bad every", "@every soon", "", time.Time{}, "expected a number"},
		{"every too short", "@every 10ms", "", time.Time{}, "at least 1s"},
		{"bad timezone", "@daily", "Nowhere/Land", time.Time{}, "unknown time zone"},
		{"tz in spec", "CRON_TZ=UTC 0 * * * *", "", time.Time{}, "timezone attribute"},
		{"empty", "", "", time.Time{}, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSchedule(tc.spec, tc.tz)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseSchedule(%q, %q) error = %v, want containing %q", tc.spec, tc.tz, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(base); !got.Equal(tc.want) {
				t.Fatalf("Next(%v) = %v, want %v", base, got.UTC(), tc.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	p := mustLoad(t, `
workflow "w" {
  trigger "schedule" { cron = "@daily" }
  trigger "workflow" {
    workflow = "other"
  }
  retry {}
  step "s" {
    action = "a.b"
    retry {
      retry_on = ["timeout", "code:E_BUSY"]
    }
  }
}
workflow "other" {
  step "s" { action = "a.b" }
}
check "c" { type = "disk" }
check "m" { type = "memory" }
service "svc" { command = ["./svc"] }
scaling "sc" {
  dry_run = true
  metric "cpu" {
    scale_up   = 70
    scale_down = 30
  }
}
discovery "http" {}
webhook "hook" {}
alert "log" {}
plugin "p" {}
`, LoadOptions{})

	t.Run("host", func(t *testing.T) {
		h := p.Host
		if h.Listen != ":3000" || h.DataDir != "./data" || h.LogLevel != "info" || h.LogFormat != "text" ||
			h.MetricsRetention != 168*time.Hour || h.BodyLimit != 1<<20 || h.RequestTimeout != 30*time.Second ||
			h.Workers < 64 || h.EventQueue != 100000 || h.AppURL != "http://127.0.0.1:8090" ||
			!reflect.DeepEqual(h.PluginDirs, []string{"./bin/plugins"}) {
			t.Fatalf("host defaults: %+v", h)
		}
	})
	t.Run("auth", func(t *testing.T) {
		a := p.Auth
		if a.AnonymousReads != "loopback" || a.LockoutThreshold != 10 || a.LockoutWindow != time.Minute || a.LockoutDuration != 5*time.Minute {
			t.Fatalf("auth defaults: %+v", a)
		}
	})
	t.Run("workflow", func(t *testing.T) {
		w := p.Workflows[0]
		if !w.Enabled || w.Concurrency.Overflow != "queue" || w.Concurrency.QueueSize != 1000 || w.Timeout != 0 {
			t.Fatalf("workflow defaults: %+v", w)
		}
		tr := w.Triggers[0]
		if tr.Timezone != "UTC" || tr.CatchUp != "skip" || tr.CatchUpLimit != 10 || tr.Cron != "@daily" {
			t.Fatalf("schedule defaults: %+v", tr)
		}
		if w.Triggers[1].On != "success" || w.Triggers[1].Workflow != "other" {
			t.Fatalf("workflow trigger defaults: %+v", w.Triggers[1])
		}
		r := w.Retry
		if r == nil || r.Attempts != 3 || r.InitialDelay != time.Second || r.MaxDelay != time.Minute ||
			r.Multiplier != 2 || r.Jitter != 0.1 || !reflect.DeepEqual(r.RetryOn, []string{"any"}) {
			t.Fatalf("retry defaults: %+v", r)
		}
		s := w.Steps[0]
		if !reflect.DeepEqual(s.Retry.RetryOn, []string{"timeout", "E_BUSY"}) {
			t.Fatalf("retry_on = %q, want codes without their prefix", s.Retry.RetryOn)
		}
		if s.ForEachConcurrency != 4 || s.If != nil || s.ForEach != nil || len(s.Input) != 0 {
			t.Fatalf("step defaults: %+v", s)
		}
		if p.Workflows[1].Retry != nil {
			t.Fatal("a workflow without retry block must have nil Retry")
		}
	})
	t.Run("check", func(t *testing.T) {
		c := p.Checks[0]
		if c.Interval != 30*time.Second || c.Timeout != 5*time.Second || c.FailuresBeforeUnhealthy != 3 ||
			c.SuccessesBeforeHealthy != 1 || c.Path != "." || c.ThresholdPercent != 90 {
			t.Fatalf("check defaults: %+v", c)
		}
		if p.Checks[1].ThresholdPercent != 90 {
			t.Fatalf("memory threshold default: %v", p.Checks[1].ThresholdPercent)
		}
	})
	t.Run("service", func(t *testing.T) {
		s := p.Services[0]
		if s.StopSignal != "SIGTERM" || s.StopTimeout != 10*time.Second || s.Restart != "always" ||
			s.MaxRestarts != 5 || s.Window != 10*time.Minute || s.RetryAfter != 30*time.Minute {
			t.Fatalf("service defaults: %+v", s)
		}
	})
	t.Run("scaling", func(t *testing.T) {
		s := p.Scaling[0]
		if s.Mode != "threshold" || s.Min != 1 || s.Max != 10 || s.Step != 1 || s.Cooldown != 5*time.Minute ||
			s.StabilizationWindow != 5*time.Minute || s.EvaluationInterval != 10*time.Minute || s.MissingMetric != "hold" ||
			s.Backend != "" || s.BackendConfig != nil {
			t.Fatalf("scaling defaults: %+v", s)
		}
	})
	t.Run("discovery", func(t *testing.T) {
		d := p.Discovery[0]
		if d.Protocol != "http" || !d.Enabled || d.Interval != 5*time.Minute || d.Config == nil {
			t.Fatalf("discovery defaults: %+v", d)
		}
	})
	t.Run("webhook", func(t *testing.T) {
		w := p.Webhooks[0]
		if w.SignatureHeader != "X-Heady-Signature-256" || w.EventType != "webhook.hook" {
			t.Fatalf("webhook defaults: %+v", w)
		}
	})
	t.Run("alert", func(t *testing.T) {
		if a := p.Alerts[0]; a.Kind != "log" || a.Remind != time.Hour {
			t.Fatalf("alert defaults: %+v", a)
		}
	})
	t.Run("plugin", func(t *testing.T) {
		if pl := p.Plugins[0]; !pl.Enabled {
			t.Fatalf("plugin defaults: %+v", pl)
		}
	})
}

func TestVariables(t *testing.T) {
	src := `
variable "schedule" {
  default = "0 */6 * * *"
}
variable "keep" {
  default = 7
}
variable "url" {
  default = env("APP_URL", "http://127.0.0.1:8090")
}
workflow "w" {
  trigger "schedule" {
    cron = var.schedule
  }
  step "s" {
    action  = "a.b"
    timeout = "${var.keep}s"
    input {
      keep = var.keep
    }
  }
}
check "c" {
  type = "http"
  url  = "${var.url}/health"
}
`
	tests := []struct {
		name     string
		vars     map[string]cty.Value
		env      map[string]string
		cron     string
		timeout  time.Duration
		checkURL string
	}{
		{"defaults", nil, nil, "0 */6 * * *", 7 * time.Second, "http://127.0.0.1:8090/health"},
		{"override", map[string]cty.Value{"schedule": cty.StringVal("@every 1s"), "keep": cty.NumberIntVal(2)}, nil, "@every 1s", 2 * time.Second, "http://127.0.0.1:8090/health"},
		{"override converts strings", map[string]cty.Value{"keep": cty.StringVal("3")}, nil, "0 */6 * * *", 3 * time.Second, "http://127.0.0.1:8090/health"},
		{"env in default", nil, map[string]string{"APP_URL": "http://127.0.0.1:9999"}, "0 */6 * * *", 7 * time.Second, "http://127.0.0.1:9999/health"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			p := mustLoad(t, src, LoadOptions{Vars: tc.vars, Env: env})
			w := p.Workflows[0]
			if got := w.Triggers[0].Cron; got != tc.cron {
				t.Errorf("cron = %q, want %q", got, tc.cron)
			}
			if got := w.Steps[0].Timeout; got != tc.timeout {
				t.Errorf("timeout = %v, want %v", got, tc.timeout)
			}
			if got := p.Checks[0].URL; got != tc.checkURL {
				t.Errorf("url = %q, want %q", got, tc.checkURL)
			}
			// Runtime expressions see the overridden values too.
			v, diags := w.Steps[0].Input["keep"].Value(p.EvalContext(nil))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if want := cty.NumberIntVal(int64(tc.timeout / time.Second)); !v.RawEquals(want) {
				t.Errorf("input keep = %#v, want %#v", v, want)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		cases := []struct {
			name string
			src  string
			vars map[string]cty.Value
			want string
		}{
			{"undeclared override", `variable "a" { default = 1 }`, map[string]cty.Value{"b": cty.True}, `no variable block declares it`},
			{"override of wrong type", `variable "a" { default = 1 }`, map[string]cty.Value{"a": cty.StringVal("x")}, `does not match the type`},
			{"no value", `variable "a" {}`, nil, `No value for required variable`},
			{"env missing", `variable "a" { default = env("NOPE") }`, nil, `environment variable "NOPE" is not set`},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				p, diags := LoadFiles([]SourceFile{{Path: "v.hcl", Bytes: []byte(c.src)}}, LoadOptions{Vars: c.vars, Env: noEnv})
				if p != nil || len(diags) != 1 || !strings.Contains(diags[0].Summary+" "+diags[0].Detail, c.want) {
					t.Fatalf("diagnostics %v, want exactly one containing %q", diags, c.want)
				}
			})
		}
	})
}

func TestFunctions(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "HOME_DIR" {
			return "/home/heady", true
		}
		return "", false
	}
	ctx := &hcl.EvalContext{Functions: Functions(env)}
	tests := []struct {
		expr    string
		want    cty.Value
		wantErr string
	}{
		{`env("HOME_DIR")`, cty.StringVal("/home/heady"), ""},
		{`env("MISSING", "fallback")`, cty.StringVal("fallback"), ""},
		{`env("HOME_DIR", "fallback")`, cty.StringVal("/home/heady"), ""},
		{`env("MISSING")`, cty.NilVal, `environment variable "MISSING" is not set`},
		{`upper("abc")`, cty.StringVal("ABC"), ""},
		{`format("%s-%d", "a", 2)`, cty.StringVal("a-2"), ""},
		{`join(",", split(" ", "a b c"))`, cty.StringVal("a,b,c"), ""},
		{`jsonencode({a = 1})`, cty.StringVal(`{"a":1}`), ""},
		{`jsondecode("{\"a\":\"b\"}").a`, cty.StringVal("b"), ""},
		{`length(concat([1], [2, 3]))`, cty.NumberIntVal(3), ""},
		{`coalesce(null, "x")`, cty.StringVal("x"), ""},
		{`lookup({a = "b"}, "z", "d")`, cty.StringVal("d"), ""},
		{`contains(["a"], "a")`, cty.True, ""},
		{`max(1, 5, 3) + min(2, 4) + abs(-1)`, cty.NumberIntVal(8), ""},
		{`ceil(1.2) + floor(1.8)`, cty.NumberIntVal(3), ""},
		{`replace("a-b", "-", "_")`, cty.StringVal("a_b"), ""},
		{`regex("[0-9]+", "ab123")`, cty.StringVal("123"), ""},
		{`trimspace("  x ")`, cty.StringVal("x"), ""},
		{`substr("hello", 1, 3)`, cty.StringVal("ell"), ""},
		{`tonumber("42")`, cty.NumberIntVal(42), ""},
		{`tostring(42)`, cty.StringVal("42"), ""},
		{`tobool("true")`, cty.True, ""},
		{`try(jsondecode("nope"), "fallback")`, cty.StringVal("fallback"), ""},
		{`base64decode(base64encode("hi"))`, cty.StringVal("hi"), ""},
		{`sha256("")`, cty.StringVal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), ""},
		{`urlencode("a b&c")`, cty.StringVal("a+b%26c"), ""},
		{`length(keys(merge({a = 1}, {b = 2})))`, cty.NumberIntVal(2), ""},
		{`strlen(timestamp()) == 20`, cty.True, ""},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			expr, diags := hclParseExpr(tc.expr)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			v, diags := expr.Value(ctx)
			if tc.wantErr != "" {
				if !strings.Contains(diags.Error(), tc.wantErr) {
					t.Fatalf("error %q, want containing %q", diags.Error(), tc.wantErr)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !v.RawEquals(tc.want) {
				t.Fatalf("%s = %#v, want %#v", tc.expr, v, tc.want)
			}
		})
	}
}

func TestEvalContextRuntime(t *testing.T) {
	p := mustLoad(t, `
variable "app_url" { default = "http://127.0.0.1:8090" }
workflow "w" {
  trigger "event" {
    type      = "user.*"
    condition = event.data.age >= 18
  }
  step "a" { action = "x.y" }
  step "b" {
    action     = "x.y"
    depends_on = ["a"]
    if         = step.a.output.ok
    input {
      url  = "${var.app_url}/users/${event.data.id}"
      role = upper(step.a.output.role)
    }
  }
}`, LoadOptions{})
	w := p.Workflows[0]
	ctx := p.EvalContext(map[string]cty.Value{
		"event": cty.ObjectVal(map[string]cty.Value{"data": cty.ObjectVal(map[string]cty.Value{
			"id": cty.StringVal("u1"), "age": cty.NumberIntVal(20)})}),
		"step": cty.ObjectVal(map[string]cty.Value{"a": cty.ObjectVal(map[string]cty.Value{
			"output": cty.ObjectVal(map[string]cty.Value{"ok": cty.True, "role": cty.StringVal("owner")})})}),
	})
	eval := func(e hcl.Expression) cty.Value {
		t.Helper()
		v, d := e.Value(ctx)
		if d.HasErrors() {
			t.Fatal(d)
		}
		return v
	}
	if v := eval(w.Triggers[0].Condition); !v.True() {
		t.Error("condition should be true")
	}
	if v := eval(w.Steps[1].If); !v.True() {
		t.Error("if should be true")
	}
	if v := eval(w.Steps[1].Input["url"]); v.AsString() != "http://127.0.0.1:8090/users/u1" {
		t.Errorf("url = %q", v.AsString())
	}
	if v := eval(w.Steps[1].Input["role"]); v.AsString() != "OWNER" {
		t.Errorf("role = %q", v.AsString())
	}
	if w.Steps[1].InputRange.Start.Line != 13 {
		t.Errorf("input range line = %d, want 13", w.Steps[1].InputRange.Start.Line)
	}
}

func TestObjects(t *testing.T) {
	files := []SourceFile{
		{Path: "p/b.hcl", Bytes: []byte("workflow \"zeta\" {\n  step \"s\" { action = \"a.b\" }\n}\n\nwebhook \"hook\" {}\n")},
		{Path: "p/a.hcl", Bytes: []byte("variable \"v\" { default = 1 }\n\nworkflow \"alpha\" {\n  step \"s\" { action = \"a.b\" }\n}\ncheck \"c\" { type = \"store\" }\n")},
	}
	p, diags := LoadFiles(files, LoadOptions{Env: noEnv})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := []Object{
		{"variable", "v", "p/a.hcl", 1},
		{"workflow", "alpha", "p/a.hcl", 3},
		{"workflow", "zeta", "p/b.hcl", 1},
		{"check", "c", "p/a.hcl", 6},
		{"webhook", "hook", "p/b.hcl", 5},
	}
	if got := p.Objects(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Objects() =\n%+v\nwant\n%+v", got, want)
	}
	if p.Files[0].Path != "p/a.hcl" || len(p.Files[0].Hash) != 64 {
		t.Fatalf("files not sorted or hashed: %+v", p.Files)
	}
}

func TestLoadDir(t *testing.T) {
	write := func(t *testing.T, dir, name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const wf = "workflow \"w\" {\n  step \"s\" { action = \"a.b\" }\n}\n"

	t.Run("missing directory", func(t *testing.T) {
		p, diags := Load(filepath.Join(t.TempDir(), "nope"), LoadOptions{})
		if p != nil || !diags.HasErrors() || !strings.Contains(diags.Error(), "Cannot read policy directory") {
			t.Fatalf("got %v, %v", p, diags)
		}
	})
	t.Run("empty directory", func(t *testing.T) {
		dir := t.TempDir()
		p, diags := Load(dir, LoadOptions{})
		if diags.HasErrors() || p == nil || len(p.Workflows) != 0 || p.Host.Listen != ":3000" || p.Dir != dir || p.Version == "" {
			t.Fatalf("got %+v, %v", p, diags)
		}
	})
	t.Run("only hcl files, not recursive", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "a.hcl", wf)
		write(t, dir, "notes.txt", "not hcl {")
		write(t, dir, ".hidden.hcl", "broken {")
		if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "sub"), "b.hcl", "broken {")
		p, diags := Load(dir, LoadOptions{})
		if diags.HasErrors() || len(p.Files) != 1 || p.Files[0].Path != filepath.Join(dir, "a.hcl") {
			t.Fatalf("got %v, %v", p, diags)
		}
	})
	t.Run("version", func(t *testing.T) {
		d1, d2 := t.TempDir(), t.TempDir()
		write(t, d1, "a.hcl", wf)
		write(t, d2, "a.hcl", wf)
		p1, _ := Load(d1, LoadOptions{})
		p2, _ := Load(d2, LoadOptions{})
		if p1.Version != p2.Version {
			t.Fatal("same content in another directory must give the same version")
		}
		write(t, d2, "a.hcl", wf+"\n")
		p3, _ := Load(d2, LoadOptions{})
		if p3.Version == p1.Version {
			t.Fatal("changed content must change the version")
		}
		write(t, d2, "a.hcl", wf)
		write(t, d2, "b.hcl", "")
		p4, _ := Load(d2, LoadOptions{})
		if p4.Version == p1.Version {
			t.Fatal("an added file must change the version")
		}
	})
}

func TestDefaultPolicies(t *testing.T) {
	dir := filepath.Join("..", "..", "policies")
	p, diags := Load(dir, LoadOptions{Env: noEnv})
	if len(diags) > 0 {
		var buf bytes.Buffer
		_ = WriteDiagnostics(&buf, diags, nil, false)
		t.Fatalf("default policies have diagnostics:\n%s", buf.String())
	}
	byName := map[string]*Workflow{}
	for _, w := range p.Workflows {
		byName[w.Name] = w
	}
	for _, name := range []string{"auto_backup", "health_check", "auto_optimize", "auto_scale_check", "on_user_register", "on_content_publish"} {
		if byName[name] == nil || !byName[name].Enabled {
			t.Errorf("built-in workflow %q missing or disabled", name)
		}
	}
	if len(p.Workflows) != 6 {
		t.Errorf("got %d workflows, want 6", len(p.Workflows))
	}
	if got := byName["auto_backup"].Triggers[0].Cron; got != "0 */6 * * *" {
		t.Errorf("auto_backup cron = %q", got)
	}
	if got := byName["on_user_register"].Triggers[0].EventType; got != "user.registered" {
		t.Errorf("on_user_register event = %q", got)
	}
	var checks []string
	for _, c := range p.Checks {
		checks = append(checks, c.Name)
	}
	if want := []string{"store", "disk", "memory", "plugins"}; !reflect.DeepEqual(checks, want) {
		t.Errorf("checks = %v, want %v", checks, want)
	}
	var disc []string
	for _, d := range p.Discovery {
		disc = append(disc, d.Name)
		if d.Name == "http" && !reflect.DeepEqual(d.Ports, []int{3000, 3001, 8000, 8080, 5000}) {
			t.Errorf("http discovery ports = %v", d.Ports)
		}
	}
	if want := []string{"http", "mcp", "local"}; !reflect.DeepEqual(disc, want) {
		t.Errorf("discovery = %v, want %v", disc, want)
	}
	for _, s := range p.Scaling {
		if !s.DryRun && s.Backend == "" {
			t.Errorf("scaling %q would act without a backend", s.Name)
		}
	}
	// Schedules are overridable for tests.
	p2, diags := Load(dir, LoadOptions{Env: noEnv, Vars: map[string]cty.Value{"backup_schedule": cty.StringVal("@every 1s")}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, w := range p2.Workflows {
		if w.Name == "auto_backup" && w.Triggers[0].Cron != "@every 1s" {
			t.Errorf("override not applied: %q", w.Triggers[0].Cron)
		}
	}
}

func TestWriteDiagnostics(t *testing.T) {
	src := "workflow \"w\" {\n\ttimeout = \"5x\"\n  step \"s\" { action = \"a.b\" }\n}\n"
	files := []SourceFile{{Path: "dir/w.hcl", Bytes: []byte(src)}}
	_, diags := LoadFiles(files, LoadOptions{Env: noEnv})
	diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "No range", Detail: "line one\nline two"})

	t.Run("plain", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WriteDiagnostics(&buf, diags, files, false); err != nil {
			t.Fatal(err)
		}
		want := "dir/w.hcl:2:12: error: Invalid duration\n" +
			"  \"5x\": unknown unit \"x\"; " + durationHint + ".\n\n" +
			"  2 | \ttimeout = \"5x\"\n" +
			"    | \t          ^^^^\n\n" +
			"warning: No range\n  line one\n  line two\n\n"
		if buf.String() != want {
			t.Fatalf("got:\n%q\nwant:\n%q", buf.String(), want)
		}
	})
	t.Run("color", func(t *testing.T) {
		var buf bytes.Buffer
		_ = WriteDiagnostics(&buf, diags, files, true)
		if !strings.Contains(buf.String(), ansiRed+"error"+ansiReset) || !strings.Contains(buf.String(), ansiYellow+"warning"+ansiReset) {
			t.Fatalf("no colors in %q", buf.String())
		}
	})
	t.Run("source from disk", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "w.hcl")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if ValidateDir(&buf, dir, LoadOptions{Env: noEnv}, false) {
			t.Fatal("ValidateDir reported an invalid set as valid")
		}
		if !strings.Contains(buf.String(), path+":2:12: error: Invalid duration") || !strings.Contains(buf.String(), "2 | \ttimeout") {
			t.Fatalf("output:\n%s", buf.String())
		}
	})
	t.Run("json", func(t *testing.T) {
		j := DiagnosticsJSON(diags)
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		hint, _ := json.Marshal(durationHint)
		want := `[{"severity":"error","summary":"Invalid duration","detail":"\"5x\": unknown unit \"x\"; ` + string(hint[1:len(hint)-1]) +
			`.","file":"dir/w.hcl","line":2,"column":12,"end_line":2,"end_column":16},{"severity":"warning","summary":"No range","detail":"line one\nline two"}]`
		if string(b) != want {
			t.Fatalf("got  %s\nwant %s", b, want)
		}
	})
}
