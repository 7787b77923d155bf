//go:build !unix

package main

import "os/exec"

// setProcessGroup: without process groups only the command itself is
// killed on cancellation (the exec package's default).
func setProcessGroup(*exec.Cmd) {}

func killGroup(*exec.Cmd) {}
