// Package testhook connects sdk/plugintest to the sdk's in-process server
// without widening the sdk's public API.
package testhook

import (
	"context"

	"github.com/hashicorp/go-plugin"
)

// ServeInProcess is set by the sdk package. It serves the components given
// as opts (a []sdk.Option) in this process in go-plugin test mode until ctx
// ends, and returns the reattach configuration and a channel closed when
// serving has stopped.
var ServeInProcess func(ctx context.Context, opts any) (*plugin.ReattachConfig, <-chan struct{}, error)
