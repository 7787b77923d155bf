//go:build unix && !linux

package main

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the command in its own process group.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
