// Command hostkill is a test helper: it starts a plugin manager, makes the
// plugin start a child process, prints "PLUGINPID CHILDPID" and waits to be
// killed.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/heady-dev/heady/host/pluginhost"
	"github.com/heady-dev/heady/sdk"
)

func main() {
	m := pluginhost.New(pluginhost.Options{Dirs: os.Args[1:]})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := m.RunAction(ctx, "testp.spawn", sdk.ActionRequest{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostkill:", err)
		os.Exit(1)
	}
	fmt.Printf("%v %v\n", resp.Outputs["pid"], resp.Outputs["child"])
	select {}
}
