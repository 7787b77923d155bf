// Package pluginpb holds the protocol buffers spoken between the Heady host
// and its plugins, and the Go code generated from them (see generate.sh).
// Plugin authors do not use it directly; the sdk package wraps it.
package pluginpb
