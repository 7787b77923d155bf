package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/maintenance"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/sdk"
	"github.com/heady-dev/heady/sdk/plugintest"
)

// setup starts the plugin with a test host whose Maintenance is the real
// host handler over a real on-disk store.
func setup(t *testing.T, keys int) (*plugintest.Plugin, string, *maintenance.Handler) {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var ops []store.Op
	for i := range keys {
		ops = append(ops, store.Put(fmt.Sprintf("%s%06d", store.SpaceAudit, i), []byte(strings.Repeat("v", 10+i%2000))))
	}
	if len(ops) > 0 {
		if err := s.Apply(context.Background(), ops...); err != nil {
			t.Fatal(err)
		}
	}
	h := &maintenance.Handler{
		Store: s, DataDir: dir,
		ExpireTokens:    func(context.Context) (int, error) { return 2, nil },
		PruneHistory:    func(_ context.Context, age time.Duration, n int) (int, error) { return int(age/time.Hour) + n, nil },
		HistoryMaxAge:   24 * time.Hour,
		HistoryMaxCount: 5,
	}
	p := plugintest.Start(t, Options()...)
	p.Host.MaintenanceFunc = h.Do
	for _, c := range []string{"backup", "verify_backup", "prune_backups", "gc", "expire_tokens", "prune_history"} {
		if _, err := p.Configure(context.Background(), c, nil); err != nil {
			t.Fatalf("configure %s: %v", c, err)
		}
	}
	return p, dir, h
}

func call(p *plugintest.Plugin, comp string, in map[string]any) (map[string]any, *sdk.Error) {
	resp, err := p.RunAction(context.Background(), sdk.ActionRequest{Component: comp, Inputs: in})
	return resp.Outputs, sdk.AsError(err)
}

func TestBackupVerifyPrune(t *testing.T) {
	p, dir, _ := setup(t, 3000)
	plugintest.CheckManifest(t, p.Manifest)
	out, err := call(p, "backup", map[string]any{"dir": "backups"})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	path, _ := out["path"].(string)
	if filepath.Dir(path) != filepath.Join(dir, "backups") || out["bytes"].(float64) <= 0 {
		t.Fatalf("outputs = %v", out)
	}
	// Verify by absolute path (what the workflow passes) and by relative path.
	for _, in := range []map[string]any{{"path": path, "min_keys": 3000}, {"path": out["rel_path"]}} {
		v, err := call(p, "verify_backup", in)
		if err != nil {
			t.Fatalf("verify %v: %v", in, err)
		}
		if v["ok"] != true || v["keys"] != 3000.0 || v["bytes"] != out["bytes"] {
			t.Fatalf("verify outputs = %v", v)
		}
	}
	// More backups, then prune to 2.
	for range 3 {
		if _, err := call(p, "backup", nil); err != nil {
			t.Fatal(err)
		}
	}
	pr, err := call(p, "prune_backups", map[string]any{"keep": 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(pr["removed"].([]any)) != 2 || len(pr["kept"].([]any)) != 2 {
		t.Fatalf("prune outputs = %v", pr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the oldest backup survived pruning: %v", err)
	}
}

func TestVerifyRejectsDamagedBackups(t *testing.T) {
	p, dir, _ := setup(t, 500)
	out, err := call(p, "backup", nil)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(out["path"].(string))
	write := func(name string, b []byte) string {
		f := filepath.Join(dir, "backups", name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	garbage := []byte(strings.Repeat("\xff", 64))
	flipped := append([]byte(nil), good...)
	for i := 12; i < len(flipped) && i < 400; i++ {
		flipped[i] ^= 0x5a
	}
	tests := []struct {
		name string
		path string
		code string
	}{
		{"truncated", write("truncated.bak", good[:len(good)/2]), "backup_invalid"},
		{"cut inside a length", write("cut.bak", good[:4]), "backup_invalid"},
		{"garbage", write("garbage.bak", garbage), "backup_invalid"},
		{"flipped bytes", write("flipped.bak", flipped), "backup_invalid"},
		{"missing", filepath.Join(dir, "backups", "nope.bak"), "backup_invalid"},
		{"relative escape", "../../etc/passwd", sdk.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := call(p, "verify_backup", map[string]any{"path": tt.path})
			if err == nil || err.Code != tt.code || err.Retryable {
				t.Fatalf("err = %#v, outputs %v", err, v)
			}
			if v != nil && v["ok"] != false {
				t.Fatalf("ok = %v", v["ok"])
			}
		})
	}
	v, err2 := call(p, "verify_backup", map[string]any{"path": out["path"], "min_keys": 501})
	if err2 == nil || err2.Code != "backup_invalid" || v["keys"] != 500.0 {
		t.Fatalf("min_keys: %#v %v", err2, v)
	}
}

func TestHostOps(t *testing.T) {
	p, _, _ := setup(t, 100)
	tests := []struct {
		comp string
		in   map[string]any
		want map[string]any
	}{
		{"expire_tokens", nil, map[string]any{"expired": 2.0}},
		{"prune_history", nil, map[string]any{"pruned": 29.0}},
		{"prune_history", map[string]any{"max_age": "48h", "max_count": 1}, map[string]any{"pruned": 49.0}},
	}
	for _, tt := range tests {
		t.Run(tt.comp, func(t *testing.T) {
			out, err := call(p, tt.comp, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if out[k] != v {
					t.Fatalf("%s = %v, want %v", k, out[k], v)
				}
			}
		})
	}
	t.Run("gc", func(t *testing.T) {
		out, err := call(p, "gc", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := out["rewritten"].(float64); !ok {
			t.Fatalf("outputs = %v", out)
		}
		if _, ok := out["duration_ms"].(float64); !ok {
			t.Fatalf("outputs = %v", out)
		}
	})
	t.Run("escape rejected", func(t *testing.T) {
		_, err := call(p, "backup", map[string]any{"dir": "../outside"})
		if err == nil || err.Code != sdk.CodeInvalid || err.Retryable {
			t.Fatalf("err = %#v", err)
		}
		_, err = call(p, "prune_backups", map[string]any{"dir": "/etc"})
		if err == nil || err.Code != sdk.CodeInvalid {
			t.Fatalf("err = %#v", err)
		}
	})
	t.Run("host without support", func(t *testing.T) {
		q := plugintest.Start(t, Options()...)
		q.Host.MaintenanceFunc = (&maintenance.Handler{}).Do
		if _, err := q.Configure(context.Background(), "expire_tokens", nil); err != nil {
			t.Fatal(err)
		}
		_, err := call(q, "expire_tokens", nil)
		if err == nil || err.Code != "unsupported" || err.Retryable {
			t.Fatalf("err = %#v", err)
		}
	})
}

func TestStoreBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := plugintest.Build(t, ".")
	m := plugintest.Describe(t, bin)
	plugintest.CheckManifest(t, m)
	if len(m.Components) != 6 {
		t.Fatalf("components = %d", len(m.Components))
	}
	// The binary verifies a backup written by the host handler.
	_, dir, h := setup(t, 200)
	res, err := h.Do(context.Background(), maintenance.OpBackup, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := plugintest.StartBinary(t, bin)
	p.Host.MaintenanceFunc = h.Do
	if _, err := p.Configure(context.Background(), "verify_backup", map[string]any{"scratch_dir": dir}); err != nil {
		t.Fatal(err)
	}
	out, verr := call(p, "verify_backup", map[string]any{"path": res["path"]})
	if verr != nil || out["keys"] != 200.0 {
		t.Fatalf("verify: %v %v", out, verr)
	}
	// The scratch database was removed.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "heady-verify-") {
			t.Fatalf("scratch database left behind: %s", e.Name())
		}
	}
}
