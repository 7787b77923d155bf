//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the command in its own process group and has the
// kernel kill it if the plugin process dies first.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
