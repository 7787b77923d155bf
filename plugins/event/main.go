// Command heady-plugin-event is the event plugin: one action, event.emit,
// that publishes an event into the host's event bus, where it can trigger
// other workflows.
package main

import "github.com/heady-dev/heady/sdk"

func main() { sdk.Serve(Options()...) }
