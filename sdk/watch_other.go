//go:build !unix

package sdk

// HostPIDEnv is the environment variable in which the host passes its pid
// to the plugins it starts.
const HostPIDEnv = "HEADY_HOST_PID"

// watchHost is a no-op where process groups and parent-death signals are
// not available.
func watchHost(func()) {}
