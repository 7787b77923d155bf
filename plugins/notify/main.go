// Command heady-plugin-notify is the notify plugin: one action,
// notify.send, that raises an alert through the host log, a signed webhook
// or e-mail, and suppresses repeats of the same alert within a window.
package main

import "github.com/heady-dev/heady/sdk"

func main() { sdk.Serve(Options()...) }
