// Command heady-plugin-email is the email plugin: one action, email.send,
// that sends a message through an SMTP server (STARTTLS, AUTH PLAIN).
package main

import "github.com/heady-dev/heady/sdk"

func main() { sdk.Serve(Options()...) }
