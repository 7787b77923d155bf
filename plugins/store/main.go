// Command heady-plugin-store is the store plugin: actions that maintain
// Heady's own database. The host holds the database, so most components
// ask it to act through the Host service's Maintenance callback;
// store.verify_backup restores a backup into a scratch database in this
// process to prove that it is usable.
package main

import "github.com/heady-dev/heady/sdk"

func main() { sdk.Serve(Options()...) }
