package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/heady-dev/heady/plugins/internal/pluginutil"
	"github.com/heady-dev/heady/sdk"
)

// Version is the plugin's version.
const Version = "1.0.0"

// Host maintenance operations.
const (
	opBackup       = "store.backup"
	opPruneBackups = "store.prune_backups"
	opGC           = "store.gc"
	opResolvePath  = "store.resolve_path"
	opExpireTokens = "auth.expire_tokens"
	opPruneHistory = "history.prune"
)

var dirInput = sdk.Attribute{Name: "dir", Type: sdk.TypeString, Default: "backups", Description: "Backup directory, relative to the data directory.", Example: `"backups"`}

// Specs are the components' declarations.
var (
	BackupSpec = sdk.Spec{
		Name:        "backup",
		Description: "Writes a full backup of the database (Badger backup stream) to DIR/heady-<UTC time>.bak, atomically.",
		Inputs:      sdk.Schema{Attributes: []sdk.Attribute{dirInput}},
		Outputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "path", Type: sdk.TypeString, Description: "Absolute path of the backup file."},
			{Name: "rel_path", Type: sdk.TypeString, Description: "Path relative to the data directory."},
			{Name: "bytes", Type: sdk.TypeNumber, Description: "Size of the backup."},
			{Name: "version", Type: sdk.TypeNumber, Description: "Badger version the backup is consistent at."},
		}},
	}
	VerifySpec = sdk.Spec{
		Name:        "verify_backup",
		Description: "Proves a backup restores: loads it into a scratch database, opens and iterates it, counts the keys.",
		Config: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "scratch_dir", Type: sdk.TypeString, Description: "Where scratch databases are created (default: the system temporary directory).", Example: `"/var/tmp"`},
		}},
		Inputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "path", Type: sdk.TypeString, Required: true, Description: "Backup file: absolute (as store.backup outputs it) or relative to the data directory.", Example: "step.backup.output.path"},
			{Name: "min_keys", Type: sdk.TypeNumber, Default: 0, Description: "Fail unless the backup holds at least this many keys.", Example: "1"},
		}},
		Outputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "ok", Type: sdk.TypeBool, Description: "True when the backup restored."},
			{Name: "keys", Type: sdk.TypeNumber, Description: "Keys in the restored database."},
			{Name: "bytes", Type: sdk.TypeNumber, Description: "Size of the backup file."},
			{Name: "duration_ms", Type: sdk.TypeNumber, Description: "Time the restore took."},
		}},
	}
	PruneSpec = sdk.Spec{
		Name:        "prune_backups",
		Description: "Deletes all but the newest KEEP backups (files named heady-*.bak only) in a directory.",
		Inputs: sdk.Schema{Attributes: []sdk.Attribute{
			dirInput,
			{Name: "keep", Type: sdk.TypeNumber, Default: 7, Description: "How many of the newest backups to keep (at least 1).", Example: "14"},
		}},
		Outputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "removed", Type: sdk.TypeStringList, Description: "Deleted backups, relative to the data directory."},
			{Name: "kept", Type: sdk.TypeStringList, Description: "Remaining backups, newest first."},
		}},
	}
	GCSpec = sdk.Spec{
		Name:        "gc",
		Description: "Runs value-log garbage collection until nothing is left to rewrite (bounded), then compacts the LSM tree.",
		Outputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "rewritten", Type: sdk.TypeNumber, Description: "Value-log files rewritten."},
			{Name: "duration_ms", Type: sdk.TypeNumber, Description: "Time taken."},
		}},
	}
	ExpireTokensSpec = sdk.Spec{
		Name:        "expire_tokens",
		Description: "Deletes expired API tokens.",
		Outputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "expired", Type: sdk.TypeNumber, Description: "Tokens deleted."},
		}},
	}
	PruneHistorySpec = sdk.Spec{
		Name:        "prune_history",
		Description: "Deletes finished workflow executions older than max_age or beyond the newest max_count.",
		Inputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "max_age", Type: sdk.TypeDuration, Description: "Age limit; default the host's history_max_age.", Example: `"720h"`},
			{Name: "max_count", Type: sdk.TypeNumber, Description: "Count limit; default the host's history_max_count.", Example: "100000"},
		}},
		Outputs: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "pruned", Type: sdk.TypeNumber, Description: "Executions deleted."},
		}},
	}
)

// Options are the sdk.Serve options of heady-plugin-store.
func Options() []sdk.Option {
	return []sdk.Option{
		sdk.WithName("store"),
		sdk.WithVersion(Version),
		sdk.WithDescription("Backs up, verifies and maintains Heady's own database."),
		sdk.WithAction(BackupSpec, func() sdk.Action {
			return &hostOp{spec: BackupSpec, op: opBackup, outputs: []string{"path", "rel_path", "bytes", "version"}}
		}),
		sdk.WithAction(VerifySpec, func() sdk.Action { return &Verify{} }),
		sdk.WithAction(PruneSpec, func() sdk.Action {
			return &hostOp{spec: PruneSpec, op: opPruneBackups, outputs: []string{"removed", "kept"}}
		}),
		sdk.WithAction(GCSpec, func() sdk.Action {
			return &hostOp{spec: GCSpec, op: opGC, outputs: []string{"rewritten", "duration_ms"}}
		}),
		sdk.WithAction(ExpireTokensSpec, func() sdk.Action {
			return &hostOp{spec: ExpireTokensSpec, op: opExpireTokens, outputs: []string{"expired"}}
		}),
		sdk.WithAction(PruneHistorySpec, func() sdk.Action {
			return &hostOp{spec: PruneHistorySpec, op: opPruneHistory, outputs: []string{"pruned"}}
		}),
	}
}

// hostOp is a component that forwards its inputs to one maintenance
// operation of the host and returns the named fields of the answer.
type hostOp struct {
	spec    sdk.Spec
	op      string
	outputs []string
	host    sdk.Host
}

func (h *hostOp) Init(host sdk.Host)                              { h.host = host }
func (h *hostOp) Configure(context.Context, map[string]any) error { return nil }
func (h *hostOp) Close(context.Context) error                     { return nil }

func (h *hostOp) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	prefix := "plugin store: " + h.spec.Name
	in, err := pluginutil.Inputs(prefix, h.spec.Inputs, req.Inputs)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	res, err := callHost(ctx, h.host, prefix, h.op, in)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	out := make(map[string]any, len(h.outputs))
	for _, k := range h.outputs {
		if v, ok := res[k]; ok {
			out[k] = v
		}
	}
	resp := sdk.ActionResponse{Outputs: out}
	resp.Log(slog.LevelInfo, fmt.Sprintf("%s: %v", h.op, out))
	return resp, nil
}

// callHost calls the host and classifies its failures: invalid
// arguments and unknown operations are permanent, the rest retryable.
func callHost(ctx context.Context, host sdk.Host, prefix, op string, args map[string]any) (map[string]any, error) {
	if host == nil {
		return nil, &sdk.Error{Code: sdk.CodeUnavailable, Message: prefix + ": no host connection", Retryable: true}
	}
	res, err := host.Maintenance(ctx, op, args)
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "invalid maintenance arguments"):
			return nil, &sdk.Error{Code: sdk.CodeInvalid, Message: prefix + ": " + msg, Err: err}
		case strings.Contains(msg, "unknown maintenance operation"), strings.Contains(msg, "not available"):
			return nil, &sdk.Error{Code: "unsupported", Message: prefix + ": " + msg, Err: err}
		}
		e := sdk.AsError(err)
		return nil, &sdk.Error{Code: e.Code, Message: prefix + ": " + e.Message, Retryable: true, Err: err}
	}
	return res, nil
}

// Verify is the store.verify_backup action.
type Verify struct {
	host    sdk.Host
	scratch string
}

// Init receives the host.
func (v *Verify) Init(h sdk.Host) { v.host = h }

// Configure reads the scratch directory.
func (v *Verify) Configure(_ context.Context, config map[string]any) error {
	v.scratch = sdk.Config(config).String("scratch_dir")
	if v.scratch != "" {
		if fi, err := os.Stat(v.scratch); err != nil || !fi.IsDir() {
			return fmt.Errorf("plugin store: configure: scratch_dir %q is not a directory", v.scratch)
		}
	}
	return nil
}

// Close does nothing.
func (v *Verify) Close(context.Context) error { return nil }

// Run restores the backup into a scratch database.
func (v *Verify) Run(ctx context.Context, req sdk.ActionRequest) (sdk.ActionResponse, error) {
	const prefix = "plugin store: verify_backup"
	in, err := pluginutil.Inputs(prefix, VerifySpec.Inputs, req.Inputs)
	if err != nil {
		return sdk.ActionResponse{}, err
	}
	p := in.String("path")
	if !filepath.IsAbs(p) {
		res, err := callHost(ctx, v.host, prefix, opResolvePath, map[string]any{"path": p})
		if err != nil {
			return sdk.ActionResponse{}, err
		}
		p, _ = res["path"].(string)
	}
	start := time.Now()
	keys, size, err := VerifyFile(ctx, p, v.scratch)
	out := map[string]any{"ok": err == nil, "keys": keys, "bytes": size, "duration_ms": time.Since(start).Milliseconds()}
	if err != nil {
		if ctx.Err() != nil {
			return sdk.ActionResponse{Outputs: out}, sdk.AsError(fmt.Errorf("%s: %w", prefix, ctx.Err()))
		}
		return sdk.ActionResponse{Outputs: out}, &sdk.Error{Code: "backup_invalid", Message: fmt.Sprintf("%s: %s: %v", prefix, p, err), Err: err}
	}
	if minKeys := in.Int("min_keys"); keys < minKeys {
		out["ok"] = false
		return sdk.ActionResponse{Outputs: out}, &sdk.Error{Code: "backup_invalid", Message: fmt.Sprintf("%s: %s holds %d keys, want at least %d", prefix, p, keys, minKeys)}
	}
	resp := sdk.ActionResponse{Outputs: out}
	resp.Log(slog.LevelInfo, fmt.Sprintf("backup %s restored: %d keys, %d bytes", p, keys, size))
	return resp, nil
}

// maxFrame bounds one frame of a backup stream; Badger writes batches far
// smaller than this.
const maxFrame = 1 << 30

// CheckFrames walks the frames of a Badger backup stream (8-byte little
// endian length, then that many bytes) and fails on a truncated or
// implausible stream before anything is loaded.
func CheckFrames(r io.Reader, size int64) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	frames := 0
	for {
		var sz uint64
		err := binary.Read(br, binary.LittleEndian, &sz)
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return frames, fmt.Errorf("frame %d at offset %d: truncated length: %w", frames, off, err)
		}
		off += 8
		if sz > maxFrame || int64(sz) > size-off {
			return frames, fmt.Errorf("frame %d at offset %d: length %d exceeds the %d bytes left", frames, off-8, sz, size-off)
		}
		if _, err := br.Discard(int(sz)); err != nil {
			return frames, fmt.Errorf("frame %d: %w", frames, err)
		}
		off += int64(sz)
		frames++
	}
}

// VerifyFile restores the backup at path into a scratch Badger database
// under scratchDir (the system default when empty), opens and iterates it,
// and returns its key count and the file's size. The scratch database is
// removed afterwards.
func VerifyFile(ctx context.Context, path, scratchDir string) (keys int, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fi.Size(), fmt.Errorf("not a regular file")
	}
	size = fi.Size()
	if _, err := CheckFrames(f, size); err != nil {
		return 0, size, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, size, err
	}
	dir, err := os.MkdirTemp(scratchDir, "heady-verify-")
	if err != nil {
		return 0, size, fmt.Errorf("scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)
	opts := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithMemTableSize(16 << 20).
		WithNumCompactors(2).
		WithCompactL0OnClose(false)
	db, err := badger.Open(opts)
	if err != nil {
		return 0, size, fmt.Errorf("open scratch database: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = db.Close()
		}
	}()
	if err := safeLoad(db, &ctxReader{ctx: ctx, r: f}); err != nil {
		return 0, size, fmt.Errorf("restore: %w", err)
	}
	if err := db.Close(); err != nil {
		return 0, size, fmt.Errorf("close restored database: %w", err)
	}
	closed = true
	// Reopen: the restored database must open from disk and iterate.
	db, err = badger.Open(opts)
	if err != nil {
		return 0, size, fmt.Errorf("reopen restored database: %w", err)
	}
	closed = false
	err = db.View(func(txn *badger.Txn) error {
		iopt := badger.DefaultIteratorOptions
		iopt.PrefetchValues = false
		it := txn.NewIterator(iopt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if keys%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			// Read the value too: a restored entry must be readable.
			if err := it.Item().Value(func([]byte) error { return nil }); err != nil {
				return fmt.Errorf("key %q: %w", it.Item().Key(), err)
			}
			keys++
		}
		return nil
	})
	if err != nil {
		return keys, size, fmt.Errorf("iterate restored database: %w", err)
	}
	return keys, size, nil
}

func safeLoad(db *badger.DB, r io.Reader) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt backup stream: %v", p)
		}
	}()
	return db.Load(r, 64)
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

var (
	_ sdk.Action      = (*hostOp)(nil)
	_ sdk.Initializer = (*hostOp)(nil)
	_ sdk.Action      = (*Verify)(nil)
	_ sdk.Initializer = (*Verify)(nil)
)
