// Command crashhelper appends audit entries from several goroutines until it
// is killed, printing each acknowledged seq on its own line the moment
// Append returns. The crash test kills it with SIGKILL mid-burst and checks
// that every printed seq survived.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/heady-dev/heady/host/audit"
	"github.com/heady-dev/heady/host/store"
)

func main() {
	dir := flag.String("data", "", "data directory")
	workers := flag.Int("workers", 8, "appending goroutines")
	syncWrites := flag.Bool("sync", false, "fsync before acknowledging")
	flag.Parse()
	st, err := store.Open(*dir, store.Options{SyncWrites: *syncWrites})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	l, err := audit.Open(context.Background(), st, audit.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				e, err := l.Append(context.Background(), audit.Entry{
					Actor: "worker-" + strconv.Itoa(w), ActorKind: audit.ActorToken, Action: "api.request",
					ResourceType: "workflow", ResourceID: "wf/" + strconv.Itoa(i%7), Source: "127.0.0.1:9",
					Outcome: audit.OutcomeSuccess, Details: map[string]any{"i": i, "path": "/api/v1/automation/workflows"},
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				// One write per line: the line is in the pipe before the next
				// append is acknowledged.
				_, err = os.Stdout.WriteString(strconv.FormatUint(e.Seq, 10) + "\n")
				mu.Unlock()
				if err != nil {
					os.Exit(1)
				}
			}
		})
	}
	wg.Wait()
}
