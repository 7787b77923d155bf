package config

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.hcl")
	if err := os.WriteFile(path, []byte("# v0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var calls atomic.Int32
	changed := make(chan struct{}, 16)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- watch(ctx, dir, 300*time.Millisecond, func() {
			calls.Add(1)
			changed <- struct{}{}
		}, func() { close(ready) })
	}()
	<-ready

	waitCall := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatalf("no change reported after %s", what)
		}
	}

	// A burst of writes is reported once.
	for i := 0; i < 5; i++ {
		if err := os.WriteFile(path, []byte("# burst\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitCall("a burst of writes")

	// Editors that save by writing a temporary file and renaming it.
	tmp := filepath.Join(dir, ".a.hcl.tmp")
	if err := os.WriteFile(tmp, []byte("# renamed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitCall("a rename over the file")

	// A new file and a removal.
	if err := os.WriteFile(filepath.Join(dir, "b.hcl"), []byte("# b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitCall("a new file")
	if err := os.Remove(filepath.Join(dir, "b.hcl")); err != nil {
		t.Fatal(err)
	}
	waitCall("a removal")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
	// Each burst above settles within the debounce before the next starts,
	// so exactly one call per burst: an extra call would show here.
	if n := calls.Load(); n != 4 {
		t.Fatalf("onChange called %d times, want 4", n)
	}
}

func TestWatchMissingDir(t *testing.T) {
	err := Watch(context.Background(), filepath.Join(t.TempDir(), "nope"), time.Millisecond, func() {})
	if err == nil {
		t.Fatal("Watch on a missing directory must fail")
	}
}
