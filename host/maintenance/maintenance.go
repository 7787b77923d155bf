// Package maintenance is the host side of the maintenance operations that
// only the process holding the database can perform: backups of the Badger
// store, pruning of old backups, value-log garbage collection, expiry of API
// tokens and pruning of execution history. Plugins (the built-in store
// plugin) ask for them through the Host service's Maintenance callback; the
// host forwards the call to (*Handler).Do.
//
// Every path a plugin names is confined to the data directory: absolute
// paths and ".." escapes are rejected, and file operations go through an
// os.Root opened on the data directory, so symbolic links cannot lead out
// of it either.
package maintenance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/heady-dev/heady/host/store"
)

// Operation names understood by Do.
const (
	OpBackup       = "store.backup"
	OpPruneBackups = "store.prune_backups"
	OpGC           = "store.gc"
	OpResolvePath  = "store.resolve_path"
	OpExpireTokens = "auth.expire_tokens"
	OpPruneHistory = "history.prune"
)

// Ops lists the operations Do implements, in a stable order.
var Ops = []string{OpBackup, OpPruneBackups, OpGC, OpResolvePath, OpExpireTokens, OpPruneHistory}

// DefaultBackupDir is the backup directory, relative to the data
// directory, when an operation names none.
const DefaultBackupDir = "backups"

// DefaultKeep is how many backups store.prune_backups keeps by default.
const DefaultKeep = 7

// maxGCRounds bounds the value-log GC loop of store.gc.
const maxGCRounds = 64

// ErrUnknownOp is wrapped by Do for an operation it does not implement.
var ErrUnknownOp = errors.New("unknown maintenance operation")

// ErrInvalid is wrapped by Do for invalid arguments (bad paths included).
var ErrInvalid = errors.New("invalid maintenance arguments")

// Handler performs maintenance operations. Store and DataDir are required
// for the store.* operations; ExpireTokens and PruneHistory for theirs. The
// zero values of the optional fields disable what they provide.
type Handler struct {
	Store *store.Store
	// DataDir is the data directory every plugin-given path is relative
	// to (normally Store.Dir()).
	DataDir string
	// ExpireTokens deletes expired API tokens and returns how many.
	ExpireTokens func(ctx context.Context) (int, error)
	// PruneHistory deletes finished executions older than maxAge or beyond
	// the newest maxCount (zero: no limit of that kind) and returns how
	// many it deleted.
	PruneHistory func(ctx context.Context, maxAge time.Duration, maxCount int) (int, error)
	// HistoryMaxAge and HistoryMaxCount are the defaults of history.prune
	// when the caller gives none (the host's history_max_age and
	// history_max_count).
	HistoryMaxAge   time.Duration
	HistoryMaxCount int
	Logger          *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Do performs op with args and returns its result. Arguments and results
// are JSON-shaped (numbers may be float64 or Go integers).
func (h *Handler) Do(ctx context.Context, op string, args map[string]any) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("maintenance %s: %w", op, err)
	}
	start := time.Now()
	var (
		out map[string]any
		err error
	)
	switch op {
	case OpBackup:
		out, err = h.backup(ctx, args)
	case OpPruneBackups:
		out, err = h.pruneBackups(args)
	case OpGC:
		out, err = h.gc(ctx)
	case OpResolvePath:
		out, err = h.resolvePath(args)
	case OpExpireTokens:
		out, err = h.expireTokens(ctx)
	case OpPruneHistory:
		out, err = h.pruneHistory(ctx, args)
	default:
		return nil, fmt.Errorf("maintenance: %w %q (known: %s)", ErrUnknownOp, op, strings.Join(Ops, ", "))
	}
	if err != nil {
		h.logger().Warn("maintenance failed", "op", op, "error", err, "duration", time.Since(start))
		return nil, fmt.Errorf("maintenance %s: %w", op, err)
	}
	h.logger().Info("maintenance done", "op", op, "duration", time.Since(start))
	return out, nil
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) dataDir() (string, error) {
	dir := h.DataDir
	if dir == "" && h.Store != nil {
		dir = h.Store.Dir()
	}
	if dir == "" {
		return "", errors.New("no data directory configured")
	}
	return filepath.Abs(dir)
}

func (h *Handler) db() (*badger.DB, error) {
	if h.Store == nil || h.Store.DB() == nil {
		return nil, errors.New("no store configured")
	}
	return h.Store.DB(), nil
}

// CleanRel validates a path given by a plugin and returns it cleaned, in
// slash form, relative to the data directory. Empty means def. Absolute
// paths and paths that leave the directory are rejected.
func CleanRel(p, def string) (string, error) {
	if p == "" {
		p = def
	}
	if p == "" {
		return "", fmt.Errorf("%w: empty path", ErrInvalid)
	}
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || filepath.VolumeName(p) != "" {
		return "", fmt.Errorf("%w: path %q must be relative to the data directory", ErrInvalid, p)
	}
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%w: path %q contains a NUL byte", ErrInvalid, p)
	}
	c := path.Clean(filepath.ToSlash(p))
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: path %q leaves the data directory", ErrInvalid, p)
	}
	if !filepath.IsLocal(filepath.FromSlash(c)) && c != "." {
		return "", fmt.Errorf("%w: path %q is not local to the data directory", ErrInvalid, p)
	}
	return c, nil
}

// openRoot opens the data directory as an os.Root, creating it if needed.
func (h *Handler) openRoot() (*os.Root, string, error) {
	dir, err := h.dataDir()
	if err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create data directory: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, "", fmt.Errorf("open data directory: %w", err)
	}
	return r, dir, nil
}

// BackupName returns the file name of a backup taken at t.
func BackupName(t time.Time) string {
	return "heady-" + t.UTC().Format("20060102T150405.000000000Z") + ".bak"
}

// IsBackupName reports whether name is a backup file name (heady-*.bak).
func IsBackupName(name string) bool {
	ok, _ := path.Match("heady-*.bak", name)
	return ok && !strings.ContainsAny(name, "/\\")
}

func (h *Handler) backup(ctx context.Context, args map[string]any) (map[string]any, error) {
	db, err := h.db()
	if err != nil {
		return nil, err
	}
	rel, err := CleanRel(argString(args, "dir"), DefaultBackupDir)
	if err != nil {
		return nil, err
	}
	root, dataDir, err := h.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if err := root.MkdirAll(filepath.FromSlash(rel), 0o700); err != nil {
		return nil, fmt.Errorf("create backup directory %s: %w", rel, err)
	}
	name := BackupName(h.now())
	final := path.Join(rel, name)
	for i := 1; ; i++ {
		if _, err := root.Lstat(filepath.FromSlash(final)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if i > 100 {
			return nil, fmt.Errorf("backup %s: a file of that name exists", final)
		}
		name = strings.TrimSuffix(BackupName(h.now()), ".bak") + "-" + strconv.Itoa(i) + ".bak"
		final = path.Join(rel, name)
	}
	tmp := path.Join(rel, "."+name+".tmp")
	f, err := root.OpenFile(filepath.FromSlash(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", tmp, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = root.Remove(filepath.FromSlash(tmp))
		}
	}()
	cw := &countingWriter{ctx: ctx, w: f}
	bw := bufio.NewWriterSize(cw, 1<<20)
	version, err := db.Backup(bw, 0)
	if err != nil {
		return nil, fmt.Errorf("write backup stream: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := root.Rename(filepath.FromSlash(tmp), filepath.FromSlash(final)); err != nil {
		return nil, fmt.Errorf("rename %s: %w", tmp, err)
	}
	ok = true
	if d, err := root.Open(filepath.FromSlash(rel)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	abs := filepath.Join(dataDir, filepath.FromSlash(final))
	h.logger().Info("backup written", "path", abs, "bytes", cw.n, "version", version)
	return map[string]any{
		"path":     abs,
		"rel_path": final,
		"bytes":    cw.n,
		"version":  version,
	}, nil
}

type countingWriter struct {
	ctx context.Context
	w   *os.File
	n   int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (h *Handler) pruneBackups(args map[string]any) (map[string]any, error) {
	rel, err := CleanRel(argString(args, "dir"), DefaultBackupDir)
	if err != nil {
		return nil, err
	}
	keep := DefaultKeep
	if v, ok := argInt(args, "keep"); ok {
		keep = v
	}
	if keep < 1 {
		return nil, fmt.Errorf("%w: keep must be at least 1, got %d", ErrInvalid, keep)
	}
	root, _, err := h.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	d, err := root.Open(filepath.FromSlash(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]any{"removed": []string{}, "kept": []string{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", rel, err)
	}
	entries, err := d.ReadDir(-1)
	_ = d.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rel, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && IsBackupName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	// The names embed a fixed-width UTC timestamp: newest sorts last.
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	kept := []string{}
	removed := []string{}
	for i, n := range names {
		p := path.Join(rel, n)
		if i < keep {
			kept = append(kept, p)
			continue
		}
		if err := root.Remove(filepath.FromSlash(p)); err != nil {
			return nil, fmt.Errorf("remove %s: %w", p, err)
		}
		removed = append(removed, p)
	}
	h.logger().Info("backups pruned", "dir", rel, "kept", len(kept), "removed", len(removed))
	return map[string]any{"removed": removed, "kept": kept}, nil
}

func (h *Handler) gc(ctx context.Context) (map[string]any, error) {
	db, err := h.db()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rewritten := 0
	for i := 0; i < maxGCRounds; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := db.RunValueLogGC(0.5)
		if err == nil {
			rewritten++
			continue
		}
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrGCInMemoryMode) {
			break
		}
		if errors.Is(err, badger.ErrRejected) {
			return nil, fmt.Errorf("value-log gc: another gc is running: %w", err)
		}
		return nil, fmt.Errorf("value-log gc: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := db.Flatten(2); err != nil {
		return nil, fmt.Errorf("flatten: %w", err)
	}
	d := time.Since(start)
	return map[string]any{
		"rewritten":   rewritten,
		"duration_ms": d.Milliseconds(),
		"duration":    d.String(),
	}, nil
}

func (h *Handler) resolvePath(args map[string]any) (map[string]any, error) {
	rel, err := CleanRel(argString(args, "path"), "")
	if err != nil {
		return nil, err
	}
	root, dataDir, err := h.openRoot()
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fi, err := root.Stat(filepath.FromSlash(rel))
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	return map[string]any{
		"path":     filepath.Join(dataDir, filepath.FromSlash(rel)),
		"rel_path": rel,
		"bytes":    fi.Size(),
	}, nil
}

func (h *Handler) expireTokens(ctx context.Context) (map[string]any, error) {
	if h.ExpireTokens == nil {
		return nil, errors.New("token expiry is not available on this host")
	}
	n, err := h.ExpireTokens(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]any{"expired": n}, nil
}

func (h *Handler) pruneHistory(ctx context.Context, args map[string]any) (map[string]any, error) {
	if h.PruneHistory == nil {
		return nil, errors.New("history pruning is not available on this host")
	}
	maxAge := h.HistoryMaxAge
	if v, ok := args["max_age"]; ok && v != nil && v != "" {
		d, err := argDuration(v)
		if err != nil {
			return nil, fmt.Errorf("%w: max_age: %v", ErrInvalid, err)
		}
		maxAge = d
	}
	maxCount := h.HistoryMaxCount
	if v, ok := argInt(args, "max_count"); ok {
		maxCount = v
	}
	if maxAge < 0 || maxCount < 0 {
		return nil, fmt.Errorf("%w: max_age and max_count must not be negative", ErrInvalid)
	}
	n, err := h.PruneHistory(ctx, maxAge, maxCount)
	if err != nil {
		return nil, err
	}
	return map[string]any{"pruned": n, "max_age": maxAge.String(), "max_count": maxCount}, nil
}

func argString(args map[string]any, k string) string {
	s, _ := args[k].(string)
	return s
}

func argInt(args map[string]any, k string) (int, bool) {
	switch v := args[k].(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case int32:
		return int(v), true
	case float64:
		if v == math.Trunc(v) && !math.IsInf(v, 0) {
			return int(v), true
		}
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			return n, true
		}
	}
	return 0, false
}

// argDuration accepts a Go duration string, a day count like "30d", or a
// number of seconds.
func argDuration(v any) (time.Duration, error) {
	switch d := v.(type) {
	case string:
		if strings.HasSuffix(d, "d") {
			n, err := strconv.ParseFloat(strings.TrimSuffix(d, "d"), 64)
			if err == nil {
				return time.Duration(n * float64(24*time.Hour)), nil
			}
		}
		return time.ParseDuration(d)
	case float64:
		return time.Duration(d * float64(time.Second)), nil
	case int:
		return time.Duration(d) * time.Second, nil
	case int64:
		return time.Duration(d) * time.Second, nil
	case time.Duration:
		return d, nil
	}
	return 0, fmt.Errorf("want a duration, got %T", v)
}
