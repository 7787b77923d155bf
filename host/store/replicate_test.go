package store

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// localLog is an in-process replicated log of one member: it records each
// batch it is handed and applies it with ApplyLocal, as the Raft state
// machine does on every server.
type localLog struct {
	s       *Store
	mu      sync.Mutex
	batches [][][]Op
	fail    error
}

func (l *localLog) Replicate(_ context.Context, reqs [][]Op) ([]error, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return nil, l.fail
	}
	l.batches = append(l.batches, reqs)
	return l.s.ApplyLocal(reqs), nil
}

func TestReplicatorCarriesEveryBatch(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rl := &localLog{s: s}
	s.SetReplicator(rl)
	var seen []string
	var mu sync.Mutex
	s.OnCommit(func(ops []Op) {
		mu.Lock()
		for _, op := range ops {
			seen = append(seen, string(op.Key))
		}
		mu.Unlock()
	})
	ctx := context.Background()
	tests := []struct {
		name    string
		ops     []Op
		wantErr bool
	}{
		{"put", []Op{Put("meta/a", []byte("1"))}, false},
		{"put and delete", []Op{Put("meta/b", []byte("2")), Delete("meta/a")}, false},
		{"unknown kind fails alone", []Op{{Kind: 99, Key: []byte("meta/x")}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Apply(ctx, tc.ops...)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Apply = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
	if _, err := s.Get("meta/a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("meta/a after delete: %v", err)
	}
	if v, err := s.Get("meta/b"); err != nil || string(v) != "2" {
		t.Fatalf("meta/b = %q, %v", v, err)
	}
	rl.mu.Lock()
	n := len(rl.batches)
	rl.mu.Unlock()
	if n != 3 {
		t.Fatalf("replicator saw %d batches, want 3", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 { // hooks run for the two applied requests only
		t.Fatalf("commit hooks saw %v", seen)
	}

	rl.mu.Lock()
	rl.fail = ErrNotLeader
	rl.mu.Unlock()
	if err := s.Apply(ctx, Put("meta/c", nil)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Apply on a follower without leader = %v", err)
	}
	if _, err := s.Get("meta/c"); !errors.Is(err, ErrNotFound) {
		t.Fatal("a refused batch was written locally")
	}
}
