// Command heady-plugin-webhook is the webhook plugin: one action,
// webhook.deliver, that POSTs a signed JSON payload to a URL once per call.
package main

import "github.com/heady-dev/heady/sdk"

func main() { sdk.Serve(Options()...) }
