package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newService(t *testing.T, opts Options) (*store.Store, *Service, string) {
	t.Helper()
	dir := t.TempDir()
	st := openStore(t, dir)
	t.Cleanup(func() { st.Close() })
	return st, New(st, opts), dir
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		role, required string
		want           bool
	}{
		{RoleReader, RoleReader, true},
		{RoleReader, RoleOperator, false},
		{RoleReader, RoleAdmin, false},
		{RoleOperator, RoleReader, true},
		{RoleOperator, RoleOperator, true},
		{RoleOperator, RoleAdmin, false},
		{RoleAdmin, RoleReader, true},
		{RoleAdmin, RoleOperator, true},
		{RoleAdmin, RoleAdmin, true},
		{"", RoleReader, false},
		{"root", RoleReader, false},
		{RoleAdmin, "", false},
		{RoleAdmin, "superuser", false},
	}
	for _, tt := range tests {
		t.Run(tt.role+"_needs_"+tt.required, func(t *testing.T) {
			if got := Allowed(tt.role, tt.required); got != tt.want {
				t.Fatalf("Allowed(%q, %q) = %v", tt.role, tt.required, got)
			}
		})
	}
}

func TestParseBearer(t *testing.T) {
	tests := []struct {
		name, header, want string
		ok                 bool
	}{
		{"plain", "Bearer hdy_abc_def", "hdy_abc_def", true},
		{"lowercase scheme", "bearer tok", "tok", true},
		{"extra spaces", "  Bearer    tok  ", "tok", true},
		{"empty", "", "", false},
		{"scheme only", "Bearer", "", false},
		{"scheme and space", "Bearer ", "", false},
		{"basic", "Basic dXNlcjpwYXNz", "", false},
		{"two tokens", "Bearer a b", "", false},
		{"no scheme", "hdy_abc_def", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseBearer(tt.header)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ParseBearer(%q) = %q, %v", tt.header, got, ok)
			}
		})
	}
}

func TestCreateAndAuthenticate(t *testing.T) {
	_, s, _ := newService(t, Options{})
	ctx := context.Background()
	plain, tok, err := s.Create(ctx, "deploy", RoleOperator, 0, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "hdy_"+tok.ID+"_") || len(tok.ID) != 16 || len(plain) != len("hdy_")+16+1+64 {
		t.Fatalf("token %q id %q", plain, tok.ID)
	}
	got, err := s.Authenticate(ctx, plain)
	if err != nil || got.ID != tok.ID || got.Role != RoleOperator || got.Name != "deploy" || got.CreatedBy != "admin" {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	wrongSecret := plain[:len(plain)-1] + map[bool]string{true: "0", false: "1"}[plain[len(plain)-1] != '0']
	tests := []struct {
		name, plain string
	}{
		{"wrong secret", wrongSecret},
		{"unknown id", "hdy_0000000000000000_" + strings.Repeat("a", 64)},
		{"malformed", "hdy_xyz"},
		{"uppercase hex", strings.ToUpper(plain)},
		{"empty", ""},
		{"short foreign string", "password"},
		{"long foreign string never bootstrapped", "a-long-foreign-token-string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Authenticate(ctx, tt.plain); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Authenticate(%q) = %v, want ErrInvalid", tt.plain, err)
			}
		})
	}

	for _, bad := range []struct{ name, role string }{{"", RoleAdmin}, {"x", "root"}, {strings.Repeat("n", 65), RoleReader}} {
		if _, _, err := s.Create(ctx, bad.name, bad.role, 0, ""); err == nil {
			t.Fatalf("Create(%q, %q) succeeded", bad.name, bad.role)
		}
	}
}

func TestListHidesHashes(t *testing.T) {
	_, s, _ := newService(t, Options{})
	ctx := context.Background()
	c := newClock()
	s.opts.Now = c.Now
	var ids []string
	for _, role := range []string{RoleReader, RoleOperator, RoleAdmin} {
		_, tok, err := s.Create(ctx, role+"-token", role, time.Hour, "test")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
		c.Add(time.Second)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("listed %d tokens", len(list))
	}
	for i, tok := range list {
		if tok.ID != ids[i] {
			t.Fatalf("list order: %v", list)
		}
		if tok.Hash == "" {
			t.Fatal("hash not loaded")
		}
		b, err := json.Marshal(tok)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(tok.Hash)) || bytes.Contains(b, []byte(`"hash"`)) {
			t.Fatalf("JSON leaks the hash: %s", b)
		}
	}
}

func TestRevoke(t *testing.T) {
	st, s, _ := newService(t, Options{CacheTTL: time.Hour})
	ctx := context.Background()
	p1, t1, _ := s.Create(ctx, "one", RoleAdmin, 0, "")
	p2, t2, _ := s.Create(ctx, "two", RoleAdmin, 0, "")
	for _, p := range []string{p1, p2} {
		if _, err := s.Authenticate(ctx, p); err != nil { // now cached for an hour
			t.Fatal(err)
		}
	}
	if err := s.Revoke(ctx, t1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, p1); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
	// A revocation committed by another service on the same store (another
	// API node, a replicated command) also reaches this cache.
	other := New(st, Options{})
	if err := other.Revoke(ctx, t2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, p2); !errors.Is(err, ErrRevoked) {
		t.Fatalf("token revoked elsewhere: %v", err)
	}
	if err := s.Revoke(ctx, t1.ID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if err := s.Revoke(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	got, err := s.Get(ctx, t1.ID)
	if err != nil || !got.Revoked || got.RevokedAt.IsZero() {
		t.Fatalf("get revoked: %+v %v", got, err)
	}
}

func TestExpiryAndExpireOld(t *testing.T) {
	c := newClock()
	_, s, _ := newService(t, Options{Now: c.Now, KeepRevoked: time.Hour})
	ctx := context.Background()
	short, _, _ := s.Create(ctx, "short", RoleReader, time.Minute, "")
	forever, _, _ := s.Create(ctx, "forever", RoleReader, 0, "")
	_, gone, _ := s.Create(ctx, "gone", RoleReader, 0, "")
	if _, err := s.Authenticate(ctx, short); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	if _, err := s.Authenticate(ctx, short); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired token: %v", err)
	}
	if n, err := s.ExpireOld(ctx); err != nil || n != 0 {
		t.Fatalf("expire within grace: %d %v", n, err)
	}
	c.Add(2 * time.Hour)
	if n, err := s.ExpireOld(ctx); err != nil || n != 2 {
		t.Fatalf("expire: %d %v", n, err)
	}
	list, _ := s.List(ctx)
	if len(list) != 1 || list[0].Name != "forever" {
		t.Fatalf("left: %+v", list)
	}
	if _, err := s.Authenticate(ctx, forever); err != nil {
		t.Fatal(err)
	}
}

func TestLastUsedThrottled(t *testing.T) {
	c := newClock()
	st, s, _ := newService(t, Options{Now: c.Now, LastUsedEvery: time.Minute})
	ctx := context.Background()
	plain, tok, _ := s.Create(ctx, "ci", RoleOperator, 0, "")
	var mu sync.Mutex
	writes := 0
	st.OnCommit(func(ops []store.Op) {
		mu.Lock()
		writes += len(ops)
		mu.Unlock()
	})
	for range 100 {
		if _, err := s.Authenticate(ctx, plain); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Get(ctx, tok.ID)
	if !got.LastUsedAt.Equal(c.Now()) {
		t.Fatalf("last used %v, want %v", got.LastUsedAt, c.Now())
	}
	c.Add(2 * time.Minute)
	if _, err := s.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if writes != 2 {
		t.Fatalf("%d token writes for 101 authentications over 2 minutes, want 2", writes)
	}
}

func TestConcurrentAuthenticate(t *testing.T) {
	_, s, _ := newService(t, Options{})
	ctx := context.Background()
	plain, _, _ := s.Create(ctx, "load", RoleReader, 0, "")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if _, err := s.Authenticate(ctx, plain); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestBootstrap(t *testing.T) {
	hdy := "hdy_0123456789abcdef_" + strings.Repeat("5a", 32)
	tests := []struct {
		name        string
		env         string
		preexisting bool
		wantErr     bool
		wantCreated bool
		wantPlain   bool
		wantFile    bool
		login       string // token that must authenticate as admin afterwards
	}{
		{name: "generated", wantCreated: true, wantPlain: true, wantFile: true},
		{name: "env hdy token", env: hdy, wantCreated: true, login: hdy},
		{name: "env foreign token", env: "correct-horse-battery-staple", wantCreated: true, login: "correct-horse-battery-staple"},
		{name: "env token too short", env: "short", wantErr: true},
		{name: "env malformed hdy token", env: "hdy_zz_zz", wantErr: true},
		{name: "tokens already exist", env: hdy, preexisting: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s, dir := newService(t, Options{})
			ctx := context.Background()
			if tt.preexisting {
				if _, _, err := s.Create(ctx, "old", RoleAdmin, 0, ""); err != nil {
					t.Fatal(err)
				}
			}
			plain, created, err := s.Bootstrap(ctx, dir, tt.env)
			if (err != nil) != tt.wantErr || created != tt.wantCreated || (plain != "") != tt.wantPlain {
				t.Fatalf("Bootstrap = %q, %v, %v", plain, created, err)
			}
			fi, ferr := os.Stat(filepath.Join(dir, BootstrapFile))
			if (ferr == nil) != tt.wantFile {
				t.Fatalf("bootstrap file present = %v", ferr == nil)
			}
			if tt.wantFile {
				if fi.Mode().Perm() != 0o600 {
					t.Fatalf("bootstrap file mode %v", fi.Mode())
				}
				b, _ := os.ReadFile(filepath.Join(dir, BootstrapFile))
				if strings.TrimSpace(string(b)) != plain {
					t.Fatal("bootstrap file does not hold the printed token")
				}
				tt.login = plain
			}
			if tt.login != "" {
				tok, err := s.Authenticate(ctx, tt.login)
				if err != nil || tok.Role != RoleAdmin || tok.Name != BootstrapName {
					t.Fatalf("bootstrap token login: %+v %v", tok, err)
				}
			}
			// A second start never creates another admin.
			if _, again, err := s.Bootstrap(ctx, dir, ""); err != nil || (again && !tt.wantErr) {
				t.Fatalf("second bootstrap: created=%v err=%v", again, err)
			}
		})
	}
}

// grepDir reports the files under dir whose bytes contain needle. Badger
// preallocates sparse files of up to 2 GiB, so only their data regions are
// read (SEEK_DATA/SEEK_HOLE; holes read as zeros and cannot hold a token).
func grepDir(t *testing.T, dir string, needle string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		found, err := fileContains(path, []byte(needle))
		if err != nil {
			return err
		}
		if found {
			hits = append(hits, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

const (
	seekData = 3 // SEEK_DATA
	seekHole = 4 // SEEK_HOLE
)

func fileContains(path string, needle []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	const chunk = 4 << 20
	buf := make([]byte, chunk+len(needle))
	for off := int64(0); off < fi.Size(); {
		start, err := f.Seek(off, seekData)
		if err != nil {
			break // ENXIO: no data after off
		}
		end, err := f.Seek(start, seekHole)
		if err != nil || end > fi.Size() {
			end = fi.Size()
		}
		for pos := start; pos < end; pos += chunk {
			n := min(int64(len(buf)), end-pos)
			m, err := f.ReadAt(buf[:n], pos)
			if err != nil && m == 0 {
				return false, err
			}
			if bytes.Contains(buf[:m], needle) {
				return true, nil
			}
		}
		off = end
	}
	return false, nil
}

// TestTokensNeverOnDisk creates and uses tokens, then searches every file of
// the data directory, both while the store is open (write-ahead memtable
// files) and after it is closed (flushed tables), for each plain token and
// its secret. As a control that the search can see stored bytes, the stored
// hash must be found. The generated bootstrap token is expected in exactly
// one file, DATA/bootstrap-token, the documented handover; the one given in
// the environment must be nowhere.
func TestTokensNeverOnDisk(t *testing.T) {
	ctx := context.Background()
	for _, env := range []string{"", "hdy_00112233445566ff_" + strings.Repeat("c3", 32)} {
		name := map[bool]string{true: "generated bootstrap", false: "environment bootstrap"}[env == ""]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir)
			s := New(st, Options{LastUsedEvery: time.Nanosecond})
			boot, _, err := s.Bootstrap(ctx, dir, env)
			if err != nil {
				t.Fatal(err)
			}
			if env != "" {
				boot = env
			}
			secrets := map[string]string{boot: boot[len("hdy_")+17:]}
			var hashes []string
			for _, role := range []string{RoleReader, RoleOperator, RoleAdmin} {
				p, tok, err := s.Create(ctx, role, role, time.Hour, "bootstrap")
				if err != nil {
					t.Fatal(err)
				}
				secrets[p] = p[len("hdy_")+17:]
				hashes = append(hashes, tok.Hash)
			}
			for p := range secrets {
				for range 3 {
					if _, err := s.Authenticate(ctx, p); err != nil {
						t.Fatal(err)
					}
				}
			}
			check := func(stage string) {
				found := false
				for _, h := range hashes {
					found = found || len(grepDir(t, dir, h)) > 0
				}
				for p, sec := range secrets {
					for _, needle := range []string{p, sec} {
						hits := grepDir(t, dir, needle)
						if env == "" && p == boot {
							// The handover file is the one expected place.
							want := filepath.Join(dir, BootstrapFile)
							if len(hits) != 1 || hits[0] != want {
								t.Fatalf("%s: bootstrap token found in %v, want only %s", stage, hits, want)
							}
							continue
						}
						if len(hits) > 0 {
							t.Fatalf("%s: token material found on disk in %v", stage, hits)
						}
					}
				}
				if !found {
					t.Fatalf("%s: control failed: stored hashes not found, the search cannot see the store", stage)
				}
			}
			check("open")
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			check("closed")
		})
	}
}
