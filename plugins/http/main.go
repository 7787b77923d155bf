// Command heady-plugin-http is the http plugin: one action, http.request,
// that makes an HTTP request and classifies the answer for the workflow
// engine's retry policies.
package main

import "github.com/heady-dev/heady/sdk"

func main() { sdk.Serve(Options()...) }
