// Command crashhelper runs a workflow engine for the kill -9 test.
//
//	crashhelper run DIR N   accept N events (logging each acknowledged ID to
//	                        DIR/accepted.log), then run until killed
//	crashhelper resume DIR  restart on DIR, finish all work, exit
//
// The workflow's steps append "EXECUTION STEP ATTEMPT" to DIR/ran.log when
// they are invoked (one write(2) per line on an O_APPEND file, which a
// kill -9 of this process cannot lose).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heady-dev/heady/host/config"
	"github.com/heady-dev/heady/host/events"
	"github.com/heady-dev/heady/host/store"
	"github.com/heady-dev/heady/host/workflow"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: crashhelper run|resume DIR [N]")
		os.Exit(2)
	}
	dir := os.Args[2]
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ran, err := os.OpenFile(filepath.Join(dir, "ran.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	e := workflow.New(st, workflow.Options{})
	e.RegisterAction("test.record", func(ctx context.Context, c workflow.ActionCall) (workflow.ActionResult, error) {
		if _, err := ran.Write([]byte(c.ExecutionID + " " + c.Step + " " + strconv.Itoa(c.Attempt) + "\n")); err != nil {
			return workflow.ActionResult{}, err
		}
		time.Sleep(200 * time.Microsecond)
		return workflow.ActionResult{Outputs: map[string]any{"step": c.Step}}, nil
	})
	step := func(name string, deps ...string) *config.Step {
		return &config.Step{Name: name, Action: "test.record", DependsOn: deps}
	}
	w := &config.Workflow{Name: "crash", Enabled: true,
		Triggers: []*config.Trigger{{Kind: config.TriggerEvent, EventType: "burst.*"}},
		Steps:    []*config.Step{step("one"), step("two", "one"), step("three", "two")}}
	if err := e.SetPolicy(&config.Policy{Version: "1", Workflows: []*config.Workflow{w}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	switch os.Args[1] {
	case "run":
		n, _ := strconv.Atoi(os.Args[3])
		acc, err := os.OpenFile(filepath.Join(dir, "accepted.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					id, err := e.AcceptEvent(ctx, events.Event{Type: "burst.item", Data: map[string]any{"g": g}})
					if err != nil {
						fmt.Fprintln(os.Stderr, "accept:", err)
						continue
					}
					acc.Write([]byte(id + "\n"))
				}
			}()
		}
		wg.Wait()
		fmt.Println("all accepted")
		select {} // until killed
	case "resume":
		s := e.Stats()
		fmt.Printf("resumed running=%d queued=%d events=%d\n", s.Running, s.Queued, s.EventsPending)
		deadline := time.Now().Add(90 * time.Second)
		for {
			s := e.Stats()
			if s.Running == 0 && s.Queued == 0 && s.EventsPending == 0 {
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "work not finished: %+v\n", s)
				os.Exit(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := e.Stop(sctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := st.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("done")
	}
}
