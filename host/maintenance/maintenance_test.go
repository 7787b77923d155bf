package maintenance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/heady-dev/heady/host/store"
)

func openStore(t *testing.T) (*store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

func fill(t *testing.T, s *store.Store, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	var ops []store.Op
	for i := range n {
		k := fmt.Sprintf("%s%05d", store.SpaceAudit, i)
		v := strings.Repeat(fmt.Sprintf("v%d-", i), 1+i%300) // some values go to the value log
		want[k] = v
		ops = append(ops, store.Put(k, []byte(v)))
	}
	if err := s.Apply(context.Background(), ops...); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return want
}

// restore loads a backup file into a scratch Badger and returns its keys.
func restore(t *testing.T, file string) map[string]string {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(t.TempDir()).WithLogger(nil))
	if err != nil {
		t.Fatalf("open scratch: %v", err)
	}
	defer db.Close()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := db.Load(f, 16); err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	got := map[string]string{}
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			got[string(it.Item().Key())] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBackupRestoresEveryKey(t *testing.T) {
	s, dir := openStore(t)
	want := fill(t, s, 2000)
	h := &Handler{Store: s, DataDir: dir}
	out, err := h.Do(context.Background(), OpBackup, map[string]any{"dir": "backups/nightly"})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	p, _ := out["path"].(string)
	if !strings.HasPrefix(p, filepath.Join(dir, "backups", "nightly")+string(filepath.Separator)) {
		t.Fatalf("path %q is not under the backup directory", p)
	}
	if !IsBackupName(filepath.Base(p)) {
		t.Fatalf("name %q does not match heady-*.bak", filepath.Base(p))
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if out["bytes"] != fi.Size() || fi.Size() == 0 {
		t.Fatalf("bytes = %v, file has %d", out["bytes"], fi.Size())
	}
	if v, _ := out["version"].(uint64); v == 0 {
		t.Fatalf("version = %v, want > 0", out["version"])
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Fatalf("backup directory holds %d entries, want 1", len(entries))
	}
	got := restore(t, p)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("restored %d keys, want %d (maps differ)", len(got), len(want))
	}
	res, err := h.Do(context.Background(), OpResolvePath, map[string]any{"path": out["rel_path"]})
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if res["path"] != p {
		t.Fatalf("resolved %v, want %s", res["path"], p)
	}
}

func TestBackupDefaultsAndDistinctNames(t *testing.T) {
	s, dir := openStore(t)
	fill(t, s, 10)
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	h := &Handler{Store: s, DataDir: dir, Now: func() time.Time { return fixed }}
	a, err := h.Do(context.Background(), OpBackup, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Do(context.Background(), OpBackup, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a["path"] == b["path"] {
		t.Fatalf("two backups at the same instant share a path %v", a["path"])
	}
	if filepath.Dir(a["path"].(string)) != filepath.Join(dir, DefaultBackupDir) {
		t.Fatalf("default dir: %v", a["path"])
	}
	if got := filepath.Base(a["path"].(string)); got != "heady-20260102T030405.000000006Z.bak" {
		t.Fatalf("name = %s", got)
	}
}

func TestPruneKeepsNewestAndTouchesNothingElse(t *testing.T) {
	_, dir := openStore(t)
	bdir := filepath.Join(dir, "backups")
	if err := os.MkdirAll(filepath.Join(bdir, "heady-dir.bak"), 0o700); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var all []string
	for i := range 6 {
		n := BackupName(base.Add(time.Duration(i) * 6 * time.Hour))
		all = append(all, n)
		if err := os.WriteFile(filepath.Join(bdir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	others := []string{"notes.txt", "heady-x.bak.tmp", ".heady-y.bak.tmp", "other.bak", "heady-keepme.txt"}
	for _, n := range others {
		if err := os.WriteFile(filepath.Join(bdir, n), []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A file outside the backup directory that matches the pattern.
	outside := filepath.Join(dir, BackupName(base))
	if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &Handler{DataDir: dir}
	out, err := h.Do(context.Background(), OpPruneBackups, map[string]any{"dir": "backups", "keep": 2.0})
	if err != nil {
		t.Fatalf("prune: %v", err)
	}
	sort.Strings(all)
	wantKept := []string{"backups/" + all[5], "backups/" + all[4]}
	if !reflect.DeepEqual(out["kept"], wantKept) {
		t.Fatalf("kept = %v, want %v", out["kept"], wantKept)
	}
	if removed := out["removed"].([]string); len(removed) != 4 {
		t.Fatalf("removed = %v", removed)
	}
	left, _ := os.ReadDir(bdir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	want := append([]string{"heady-dir.bak", all[4], all[5]}, others...)
	sort.Strings(want)
	sort.Strings(names)
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("left %v, want %v", names, want)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("file outside the backup dir touched: %v", err)
	}
	// Missing directory: nothing to do.
	out, err = h.Do(context.Background(), OpPruneBackups, map[string]any{"dir": "nothing-here"})
	if err != nil || len(out["removed"].([]string)) != 0 {
		t.Fatalf("missing dir: %v %v", out, err)
	}
}

func TestPathsConfinedToDataDir(t *testing.T) {
	s, dir := openStore(t)
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Store: s, DataDir: dir}
	tests := []struct {
		name string
		op   string
		args map[string]any
	}{
		{"absolute backup dir", OpBackup, map[string]any{"dir": "/tmp"}},
		{"dotdot backup dir", OpBackup, map[string]any{"dir": "../elsewhere"}},
		{"nested dotdot", OpBackup, map[string]any{"dir": "backups/../../x"}},
		{"symlink out", OpBackup, map[string]any{"dir": "escape/sub"}},
		{"absolute prune dir", OpPruneBackups, map[string]any{"dir": "/etc"}},
		{"dotdot prune dir", OpPruneBackups, map[string]any{"dir": ".."}},
		{"prune keep zero", OpPruneBackups, map[string]any{"keep": 0}},
		{"resolve absolute", OpResolvePath, map[string]any{"path": "/etc/passwd"}},
		{"resolve dotdot", OpResolvePath, map[string]any{"path": "../../etc/passwd"}},
		{"resolve empty", OpResolvePath, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := h.Do(context.Background(), tt.op, tt.args)
			if err == nil {
				t.Fatalf("accepted: %v", out)
			}
			if !strings.HasPrefix(err.Error(), "maintenance "+tt.op+": ") {
				t.Fatalf("error not wrapped with its op: %v", err)
			}
		})
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("a symlinked directory outside the data dir was written to: %v", entries)
	}
}

func TestCleanRel(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"backups", "backups", true},
		{"a/./b/", "a/b", true},
		{"a/../b", "b", true},
		{"", "backups", true},
		{"..", "", false},
		{"../a", "", false},
		{"/abs", "", false},
		{"a/../../b", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CleanRel(tt.in, "backups")
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("CleanRel(%q) = %q, %v", tt.in, got, err)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestGC(t *testing.T) {
	s, dir := openStore(t)
	want := fill(t, s, 500)
	// Overwrite and delete to leave garbage in the value log.
	var ops []store.Op
	for k := range want {
		ops = append(ops, store.Delete(k))
	}
	if err := s.Apply(context.Background(), ops...); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Store: s, DataDir: dir}
	out, err := h.Do(context.Background(), OpGC, nil)
	if err != nil {
		t.Fatalf("gc: %v", err)
	}
	if n, ok := out["rewritten"].(int); !ok || n < 0 || n > maxGCRounds {
		t.Fatalf("rewritten = %v", out["rewritten"])
	}
	if _, ok := out["duration_ms"].(int64); !ok {
		t.Fatalf("duration_ms = %#v", out["duration_ms"])
	}
	// The store still works after GC and flatten.
	if err := s.Apply(context.Background(), store.Put("meta/after-gc", []byte("1"))); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get("meta/after-gc"); err != nil || string(v) != "1" {
		t.Fatalf("get after gc: %q %v", v, err)
	}
}

func TestTokensAndHistory(t *testing.T) {
	var gotAge time.Duration
	var gotCount int
	h := &Handler{
		ExpireTokens: func(context.Context) (int, error) { return 3, nil },
		PruneHistory: func(_ context.Context, age time.Duration, count int) (int, error) {
			gotAge, gotCount = age, count
			return 42, nil
		},
		HistoryMaxAge:   30 * 24 * time.Hour,
		HistoryMaxCount: 1000,
	}
	out, err := h.Do(context.Background(), OpExpireTokens, nil)
	if err != nil || out["expired"] != 3 {
		t.Fatalf("expire: %v %v", out, err)
	}
	tests := []struct {
		name      string
		args      map[string]any
		wantAge   time.Duration
		wantCount int
	}{
		{"host defaults", nil, 30 * 24 * time.Hour, 1000},
		{"duration string", map[string]any{"max_age": "48h"}, 48 * time.Hour, 1000},
		{"days", map[string]any{"max_age": "7d", "max_count": 10.0}, 7 * 24 * time.Hour, 10},
		{"seconds", map[string]any{"max_age": 60.0}, time.Minute, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := h.Do(context.Background(), OpPruneHistory, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if out["pruned"] != 42 || gotAge != tt.wantAge || gotCount != tt.wantCount {
				t.Fatalf("out %v, age %v count %d", out, gotAge, gotCount)
			}
		})
	}
	if _, err := h.Do(context.Background(), OpPruneHistory, map[string]any{"max_age": "soon"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad max_age: %v", err)
	}
	failing := &Handler{ExpireTokens: func(context.Context) (int, error) { return 0, errors.New("boom") }}
	if _, err := failing.Do(context.Background(), OpExpireTokens, nil); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("failure not reported: %v", err)
	}
	if _, err := (&Handler{}).Do(context.Background(), OpPruneHistory, nil); err == nil {
		t.Fatal("prune without a function succeeded")
	}
}

func TestUnknownOp(t *testing.T) {
	_, err := (&Handler{}).Do(context.Background(), "store.explode", nil)
	if !errors.Is(err, ErrUnknownOp) || !strings.Contains(err.Error(), "store.explode") {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Handler{}).Do(ctx, OpGC, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
}
