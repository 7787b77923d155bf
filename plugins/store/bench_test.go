package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/heady-dev/heady/host/maintenance"
	"github.com/heady-dev/heady/host/store"
)

// BenchmarkBackupVerify measures a backup of a 50,000-key store by the
// host handler and its verification (restore into a scratch database,
// reopen, iterate) by the plugin code.
func BenchmarkBackupVerify(b *testing.B) {
	dir := b.TempDir()
	s, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 50000
	for i := 0; i < n; i += 5000 {
		ops := make([]store.Op, 0, 5000)
		for j := i; j < i+5000; j++ {
			ops = append(ops, store.Put(fmt.Sprintf("%s%08d", store.SpaceAudit, j), make([]byte, 200)))
		}
		if err := s.Apply(context.Background(), ops...); err != nil {
			b.Fatal(err)
		}
	}
	h := &maintenance.Handler{Store: s, DataDir: dir}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		res, err := h.Do(ctx, maintenance.OpBackup, nil)
		if err != nil {
			b.Fatal(err)
		}
		keys, _, err := VerifyFile(ctx, res["path"].(string), b.TempDir())
		if err != nil || keys != n {
			b.Fatalf("verify: %d keys, %v", keys, err)
		}
		b.ReportMetric(float64(res["bytes"].(int64)), "backup-bytes")
	}
}
