package plugintest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

var closed atomic.Int32

type counter struct {
	host  sdk.Host
	step  float64
	start float64
}

func (c *counter) Init(h sdk.Host) { c.host = h }

func (c *counter) Configure(_ context.Context, cfg map[string]any) error {
	c.step = sdk.Config(cfg).Number("step")
	return nil
}

func (c *counter) Close(context.Context) error { closed.Add(1); return nil }

func (c *counter) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	switch sdk.Config(req.Inputs).String("mode") {
	case "panic":
		panic("kaboom")
	case "fail":
		return sdk.ActionResponse{}, errors.New("plain failure")
	}
	n := 0.0
	if b, err := c.host.KVGet(ctx, "n"); err == nil {
		fmt.Sscan(string(b), &n)
	} else if !errors.Is(err, sdk.ErrNotFound) {
		return sdk.ActionResponse{}, err
	}
	n += c.step
	if err := c.host.KVPut(ctx, "n", []byte(fmt.Sprint(n))); err != nil {
		return sdk.ActionResponse{}, err
	}
	if err := c.host.EmitEvent(ctx, "counter.bumped", map[string]any{"n": n}); err != nil {
		return sdk.ActionResponse{}, err
	}
	if err := c.host.Log(ctx, slog.LevelInfo, "bumped", map[string]any{"n": n}); err != nil {
		return sdk.ActionResponse{}, err
	}
	sdk.Warn(ctx, "counting is fun", "")
	resp := sdk.ActionResponse{Outputs: map[string]any{"n": n}}
	resp.Log(slog.LevelInfo, "bumped")
	return resp, nil
}

type healer struct{ counter }

func (healer) Heal(_ context.Context, inc sdk.Incident) (sdk.Outcome, error) {
	return sdk.Outcome{Healed: inc.Attempt > 1, Message: inc.Check}, nil
}

type scaler struct{ counter }

func (scaler) Current(context.Context, sdk.Target) (int, error) { return 4, nil }
func (scaler) Scale(_ context.Context, _ sdk.Target, d int) (sdk.ScaleResult, error) {
	return sdk.ScaleResult{Current: d}, nil
}

type disco struct{ counter }

func (disco) Scan(_ context.Context, s sdk.Scope) ([]sdk.Service, error) {
	return []sdk.Service{{ID: "1", Name: s.Name, Port: s.Ports[0], Labels: map[string]string{"a": "b"}}}, nil
}

func options() []sdk.Option {
	desc := func(n string) sdk.Spec {
		return sdk.Spec{Name: n, Description: "A " + n + "."}
	}
	return []sdk.Option{
		sdk.WithName("counter"), sdk.WithVersion("1.2.3"),
		sdk.WithAction(sdk.Spec{Name: "bump", Description: "Bumps a counter.", Config: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "step", Type: sdk.TypeNumber, Default: 1, Description: "Increment."},
		}}}, func() sdk.Action { return &counter{} }),
		sdk.WithHealer(desc("heal"), func() sdk.Healer { return &healer{} }),
		sdk.WithScaler(desc("scale"), func() sdk.Scaler { return &scaler{} }),
		sdk.WithDiscovery(desc("scan"), func() sdk.Discoverer { return &disco{} }),
	}
}

func TestInProcess(t *testing.T) {
	p := plugintest.Start(t, options()...)
	plugintest.CheckManifest(t, p.Manifest)
	ctx := context.Background()
	for _, c := range []string{"bump", "heal", "scale", "scan"} {
		if _, err := p.Configure(ctx, c, nil); err != nil {
			t.Fatalf("configure %s: %v", c, err)
		}
	}
	t.Run("action with callbacks", func(t *testing.T) {
		for i := 1; i <= 2; i++ {
			resp, err := p.RunAction(ctx, sdk.ActionRequest{Component: "bump"})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Outputs["n"] != float64(i) || len(resp.Logs) != 1 || resp.Logs[0].Level != "info" {
				t.Fatalf("response = %+v", resp)
			}
			if len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Summary != "counting is fun" {
				t.Fatalf("diagnostics = %+v", resp.Diagnostics)
			}
		}
		if got := string(p.Host.KV()["n"]); got != "2" {
			t.Fatalf("kv n = %q", got)
		}
		if ev := p.Host.Events(); len(ev) != 2 || ev[1].Type != "counter.bumped" || ev[1].Data["n"] != 2.0 {
			t.Fatalf("events = %+v", ev)
		}
		if logs := p.Host.Logs(); len(logs) != 2 || logs[0].Message != "bumped" {
			t.Fatalf("logs = %+v", logs)
		}
	})
	t.Run("reconfigure replaces and closes the old instance", func(t *testing.T) {
		before := closed.Load()
		if _, err := p.Configure(ctx, "bump", map[string]any{"step": 10}); err != nil {
			t.Fatal(err)
		}
		resp, err := p.RunAction(ctx, sdk.ActionRequest{Component: "bump"})
		if err != nil || resp.Outputs["n"] != 12.0 {
			t.Fatalf("after reconfigure: %v, %v", resp.Outputs, err)
		}
		deadlineWait(t, func() bool { return closed.Load() > before })
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, mode, code, msg string
			retryable             bool
		}{
			{"plain error is retryable", "fail", sdk.CodeError, "plain failure", true},
			{"panic is reported", "panic", "panic", "kaboom", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := p.RunAction(ctx, sdk.ActionRequest{Component: "bump", Inputs: map[string]any{"mode": tt.mode}})
				e := sdk.AsError(err)
				if e == nil || e.Code != tt.code || e.Retryable != tt.retryable || !strings.Contains(e.Message, tt.msg) {
					t.Fatalf("err = %#v", e)
				}
			})
		}
		if _, err := p.Configure(ctx, "bump", map[string]any{"step": "ten"}); err == nil || !strings.Contains(err.Error(), "want number") {
			t.Fatalf("bad config: %v", err)
		}
		if _, err := p.Heal(ctx, "bump", sdk.Incident{}); err == nil || !strings.Contains(err.Error(), "is a action, not a healer") {
			t.Fatalf("wrong kind: %v", err)
		}
	})
	t.Run("other kinds", func(t *testing.T) {
		oc, err := p.Heal(ctx, "heal", sdk.Incident{Check: "db", Attempt: 2})
		if err != nil || !oc.Healed || oc.Message != "db" {
			t.Fatalf("heal = %+v, %v", oc, err)
		}
		n, _, err := p.ScaleCurrent(ctx, "scale", sdk.Target{Name: "w"})
		if err != nil || n != 4 {
			t.Fatalf("current = %d, %v", n, err)
		}
		r, err := p.Scale(ctx, "scale", sdk.Target{Name: "w"}, 6)
		if err != nil || r.Current != 6 {
			t.Fatalf("scale = %+v, %v", r, err)
		}
		svcs, _, err := p.Scan(ctx, "scan", sdk.Scope{Name: "lan", Ports: []int{8080}})
		if err != nil || len(svcs) != 1 || svcs[0].Port != 8080 || svcs[0].Labels["a"] != "b" {
			t.Fatalf("scan = %+v, %v", svcs, err)
		}
	})
}

func TestUnconfiguredComponent(t *testing.T) {
	p := plugintest.Start(t, options()...)
	_, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: "bump"})
	if e := sdk.AsError(err); e == nil || e.Code != sdk.CodeUnavailable || !strings.Contains(e.Message, "not configured") {
		t.Fatalf("err = %#v", e)
	}
}

// recordingTB captures Errorf calls to test that CheckManifest fails.
type recordingTB struct {
	testing.TB
	errs []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheckManifestCatchesProblems(t *testing.T) {
	good, err := sdk.ManifestOf(options()...)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(m *sdk.Manifest)
		want   string
	}{
		{"well formed", func(*sdk.Manifest) {}, ""},
		{"missing description", func(m *sdk.Manifest) { m.Components[1].Description = "" }, "has no description"},
		{"undocumented attribute", func(m *sdk.Manifest) { m.Components[0].Config.Attributes[0].Description = "" }, "attribute step has no description"},
		{"bad default", func(m *sdk.Manifest) { m.Components[0].Config.Attributes[0].Default = "one" }, "want number"},
		{"incompatible sdk", func(m *sdk.Manifest) { m.SDKVersion = "9.0.0" }, "incompatible"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			m.Components = append([]sdk.ComponentInfo(nil), good.Components...)
			m.Components[0].Config.Attributes = append([]sdk.Attribute(nil), good.Components[0].Config.Attributes...)
			tt.mutate(&m)
			r := &recordingTB{TB: t}
			plugintest.CheckManifest(r, m)
			if tt.want == "" {
				if len(r.errs) != 0 {
					t.Fatalf("errors: %v", r.errs)
				}
				return
			}
			if len(r.errs) == 0 || !strings.Contains(strings.Join(r.errs, "\n"), tt.want) {
				t.Fatalf("errors = %v, want %q", r.errs, tt.want)
			}
		})
	}
}

func deadlineWait(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		waitABit()
	}
	t.Fatal("condition not met within 5s")
}

// TestReconfigureUnderLoad reconfigures a component while calls are in
// flight: no call may fail or run on a closed instance.
func TestReconfigureUnderLoad(t *testing.T) {
	p := plugintest.Start(t, options()...)
	ctx := context.Background()
	if _, err := p.Configure(ctx, "scale", nil); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 50; i++ {
				if _, _, err := p.ScaleCurrent(ctx, "scale", sdk.Target{Name: "w"}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for i := 0; i < 10; i++ {
		if _, err := p.Configure(ctx, "scale", nil); err != nil {
			t.Fatal(err)
		}
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Fatalf("call during reconfigure: %v", err)
		}
	}
}
