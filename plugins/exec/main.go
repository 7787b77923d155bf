// Command heady-plugin-exec is the exec plugin: one action, exec.run, that
// runs a command from an argument vector (never through a shell) with a
// deadline that kills its whole process group.
package main

import "github.com/heady-dev/heady/sdk"

func main() { sdk.Serve(Options()...) }
