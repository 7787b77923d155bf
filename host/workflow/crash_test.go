package workflow

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heady-dev/heady/host/store"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i] // drop a torn last line
	} else {
		return nil
	}
	_ = bufio.ScanLines
	return strings.Split(s, "\n")
}

// TestCrashKill9 kills the host with SIGKILL in the middle of a burst of
// events with executions mid-step, restarts it, and checks that every
// acknowledged event has exactly one execution, that every execution
// finished, and that no step whose completion was recorded ran again.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and kills a helper process")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "crashhelper")
	build := exec.Command("go", "build", "-o", bin, "./testdata/crashhelper")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build helper: %v", err)
	}
	dir := filepath.Join(tmp, "data")
	const burst = 6000
	run := exec.Command(bin, "run", dir, strconv.Itoa(burst))
	run.Stderr = os.Stderr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	accPath := filepath.Join(dir, "accepted.log")
	waitFor(t, 60*time.Second, "half the burst accepted", func() bool { return len(readLines(t, accPath)) >= burst/2 })
	if err := run.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = run.Wait()
	accepted := readLines(t, accPath)
	ranBefore := len(readLines(t, filepath.Join(dir, "ran.log")))

	out, err := exec.Command(bin, "resume", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	t.Logf("killed after %d acknowledged events, %d step invocations; %s", len(accepted), ranBefore, strings.TrimSpace(string(out)))
	if !strings.Contains(string(out), "resumed") || strings.Contains(string(out), "running=0 queued=0 events=0") {
		t.Fatalf("the kill did not interrupt any work: %s", out)
	}

	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	byEvent := map[string]int{}
	var ids []string
	err = st.Scan(store.ScanOptions{Prefix: prefixHeader}, func(k string, v []byte) (bool, error) {
		var h header
		if err := store.Decode(v, &h); err != nil {
			return false, err
		}
		if h.Status != StatusSucceeded {
			t.Errorf("execution %s is %s (%+v)", h.ID, h.Status, h.Error)
		}
		byEvent[h.Trigger.EventID]++
		ids = append(ids, h.ID)
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for ev, n := range byEvent {
		if n != 1 {
			t.Errorf("event %s has %d executions", ev, n)
		}
	}
	for _, id := range accepted {
		if byEvent[id] != 1 {
			t.Errorf("acknowledged event %s has %d executions", id, byEvent[id])
		}
	}
	n := 0
	_ = st.Scan(store.ScanOptions{Prefix: prefixActive, KeysOnly: true}, func(string, []byte) (bool, error) { n++; return true, nil })
	if n != 0 {
		t.Errorf("%d executions still marked active", n)
	}

	// Every invocation must be a recorded attempt, and nothing may run
	// after an attempt of the same step was recorded as succeeded.
	type stepKey struct{ exec, step string }
	invoked := map[stepKey][]int{}
	for _, l := range readLines(t, filepath.Join(dir, "ran.log")) {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("bad ran.log line %q", l)
		}
		a, _ := strconv.Atoi(f[2])
		k := stepKey{f[0], f[1]}
		invoked[k] = append(invoked[k], a)
	}
	reruns := 0
	for _, id := range ids {
		s, err := loadExecution(st, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"one", "two", "three"} {
			atts := s.attempts["m."+name][0]
			inv := invoked[stepKey{id, name}]
			recorded := map[int]*Attempt{}
			for i, a := range atts {
				recorded[a.Attempt] = a
				last := i == len(atts)-1
				if last != (a.Status == StatusSucceeded) || (!last && !a.Interrupted) {
					t.Errorf("%s/%s attempt %d: status %s interrupted %v", id, name, a.Attempt, a.Status, a.Interrupted)
				}
			}
			seen := map[int]bool{}
			for _, n := range inv {
				// An attempt may be recorded and never invoked (killed
				// in between); an invocation is always recorded first.
				if recorded[n] == nil || seen[n] {
					t.Errorf("%s/%s: invocation of attempt %d unrecorded or repeated", id, name, n)
				}
				seen[n] = true
			}
			if len(inv) == 0 {
				t.Errorf("%s/%s: succeeded without being invoked", id, name)
			}
			if len(atts) > 1 {
				reruns++
			}
		}
	}
	t.Logf("%d executions, %d interrupted steps re-run (at-least-once)", len(ids), reruns)
	if len(ids) < len(accepted) {
		t.Fatalf("%d executions for %d acknowledged events", len(ids), len(accepted))
	}
	_ = context.Background
}
