package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	st, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestApplyGroupCommitsConcurrentCallers(t *testing.T) {
	st := openTest(t)
	var commits int
	var mu sync.Mutex
	st.OnCommit(func([]Op) { mu.Lock(); commits++; mu.Unlock() })
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := st.Apply(context.Background(), Put(fmt.Sprintf("test/%02d/%03d", g, i), []byte("v"))); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	n := 0
	if err := st.Scan(ScanOptions{Prefix: "test/", KeysOnly: true}, func(string, []byte) (bool, error) { n++; return true, nil }); err != nil {
		t.Fatal(err)
	}
	if n != 1000 || commits != 1000 {
		t.Fatalf("keys %d, commit hooks %d; want 1000 each", n, commits)
	}
}

// TestApplyOversizedBatches checks that requests that together exceed one
// Badger transaction are all committed, and that one request too large on
// its own fails alone.
func TestApplyOversizedBatches(t *testing.T) {
	st, err := Open(t.TempDir(), Options{MaxBatch: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Badger caps a transaction's entry count (about 48k with these
	// options); 40 requests of 3000 entries need several transactions.
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ops := make([]Op, 3000)
			for j := range ops {
				ops[j] = Put(fmt.Sprintf("big/%03d/%05d", i, j), []byte("v"))
			}
			errs[i] = st.Apply(context.Background(), ops...)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	n := 0
	if err := st.Scan(ScanOptions{Prefix: "big/", KeysOnly: true}, func(string, []byte) (bool, error) { n++; return true, nil }); err != nil {
		t.Fatal(err)
	}
	if n != 40*3000 {
		t.Fatalf("%d keys written, want %d", n, 40*3000)
	}
	huge := make([]Op, 200000)
	for i := range huge {
		huge[i] = Put(fmt.Sprintf("huge/%06d", i), []byte("v"))
	}
	if err := st.Apply(context.Background(), huge...); err == nil {
		t.Fatal("a request larger than a transaction was accepted")
	}
	if _, err := st.Get("huge/000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("part of a refused request was written: %v", err)
	}
}

func TestScanPaging(t *testing.T) {
	st := openTest(t)
	for i := 0; i < 10; i++ {
		if err := st.Apply(context.Background(), Put(fmt.Sprintf("p/%d", i), []byte{byte(i)})); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		opts ScanOptions
		want string
	}{
		{"forward", ScanOptions{Prefix: "p/", Limit: 3}, "p/0,p/1,p/2"},
		{"after cursor", ScanOptions{Prefix: "p/", After: "p/2", Limit: 3}, "p/3,p/4,p/5"},
		{"reverse", ScanOptions{Prefix: "p/", Reverse: true, Limit: 2}, "p/9,p/8"},
		{"reverse after cursor", ScanOptions{Prefix: "p/", Reverse: true, After: "p/8", Limit: 2}, "p/7,p/6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			if err := st.Scan(tc.opts, func(k string, _ []byte) (bool, error) { got = append(got, k); return true, nil }); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("got %v, want %s", got, tc.want)
			}
		})
	}
}

func TestRecordVersioning(t *testing.T) {
	type rec struct{ A int }
	b := MustEncode(rec{A: 7})
	var r rec
	if err := Decode(b, &r); err != nil || r.A != 7 {
		t.Fatalf("round trip: %v %+v", err, r)
	}
	b[0] = 99
	if err := Decode(b, &r); err == nil || !strings.Contains(err.Error(), "unknown encoding version 99") {
		t.Fatalf("unknown version: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Run("held by another store names it", func(t *testing.T) {
		dir := t.TempDir()
		st, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		_, err = Open(dir, Options{})
		if err == nil || !strings.Contains(err.Error(), "in use by another heady (pid ") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("corrupt database is reported and left in place", func(t *testing.T) {
		dir := t.TempDir()
		st, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_ = st.Apply(context.Background(), Put("k", []byte("v")))
		st.Close()
		manifest := filepath.Join(dir, "db", "MANIFEST")
		if err := writeFile(manifest, []byte("garbage, not a manifest")); err != nil {
			t.Fatal(err)
		}
		_, err = Open(dir, Options{})
		if err == nil || !strings.Contains(err.Error(), "left untouched") {
			t.Fatalf("got %v", err)
		}
		if b, _ := readFile(manifest); string(b) != "garbage, not a manifest" {
			t.Fatal("the corrupt database was modified")
		}
	})
}

func TestTTL(t *testing.T) {
	st := openTest(t)
	if err := st.Apply(context.Background(), PutTTL("ttl/a", []byte("v"), time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get("ttl/a"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := st.Get("ttl/a"); errors.Is(err, ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("key with a 1s TTL still there after 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOnCommitRemove(t *testing.T) {
	st := openTest(t)
	var a, b int
	removeA := st.OnCommit(func([]Op) { a++ })
	st.OnCommit(func([]Op) { b++ })
	ctx := context.Background()
	if err := st.Apply(ctx, Put("h/1", []byte("v"))); err != nil {
		t.Fatal(err)
	}
	removeA()
	removeA() // removing twice is harmless
	if err := st.Apply(ctx, Put("h/2", []byte("v"))); err != nil {
		t.Fatal(err)
	}
	if a != 1 || b != 2 {
		t.Fatalf("hook calls a=%d b=%d, want 1 and 2", a, b)
	}
}
