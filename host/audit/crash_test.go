package audit

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCrashDuringBurst runs a real helper process that appends from several
// goroutines and prints each acknowledged seq, kills it with SIGKILL in the
// middle of the burst, and checks in this process that every acknowledged
// entry is stored and that the chain verifies. Three rounds share one data
// directory, so the chain must also continue correctly after each crash.
func TestCrashDuringBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a helper process; runs without -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	tmp := t.TempDir()
	helper := filepath.Join(tmp, "crashhelper")
	build := exec.Command(goBin, "build", "-o", helper, "./testdata/crashhelper")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build helper: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "data")
	var prevHead uint64
	for round, tc := range []struct {
		sync bool
		acks int
	}{{true, 400}, {false, 3000}, {true, 1500}} {
		cmd := exec.Command(helper, "-data", dir, "-workers", "16", "-sync="+strconv.FormatBool(tc.sync))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(stdout)
		var acked []uint64
		readLine := func() bool {
			line, err := r.ReadString('\n')
			if err != nil {
				return false // EOF, or a fragment without its newline: not acknowledged
			}
			seq, perr := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
			if perr != nil {
				t.Fatalf("round %d: helper printed %q", round, line)
			}
			acked = append(acked, seq)
			return true
		}
		for len(acked) < tc.acks {
			if !readLine() {
				cmd.Wait()
				t.Fatalf("round %d: helper stopped after %d acks: %s", round, len(acked), stderr.String())
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for readLine() {
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()

		st := openStore(t, dir)
		l, err := Open(context.Background(), st, Options{})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := l.Verify(context.Background())
		if err != nil || !rep.OK {
			t.Fatalf("round %d: verify after kill -9: %+v %v", round, rep, err)
		}
		var maxSeq uint64
		for _, seq := range acked {
			if seq <= prevHead {
				t.Fatalf("round %d: seq %d reused (previous head %d)", round, seq, prevHead)
			}
			if _, err := l.Get(context.Background(), seq); err != nil {
				t.Fatalf("round %d: acknowledged entry %d lost: %v", round, seq, err)
			}
			maxSeq = max(maxSeq, seq)
		}
		if rep.Head < maxSeq {
			t.Fatalf("round %d: head %d behind acknowledged %d", round, rep.Head, maxSeq)
		}
		t.Logf("round %d (sync=%v): %d acknowledged before kill, head %d, %d entries verified",
			round, tc.sync, len(acked), rep.Head, rep.Checked)
		prevHead = rep.Head
		l.Close()
		st.Close()
	}
}
