// Command heady-plugin-heal is the built-in healer plugin: the healing
// strategies that `heal` blocks of health checks name (restart,
// clear_caches, run_workflow, recycle, exec, wait_retry, alert). Strategies
// that only the host can carry out (restarting a supervised service,
// clearing the host's caches, recycling its connections, raising an alert)
// are requested through the host's Maintenance callback.
package main

import "github.com/heady-dev/heady/sdk"

func main() { sdk.Serve(Options()...) }
