//go:build linux

package main

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the command in its own process group, makes
// cancellation kill the whole group, and has the kernel kill the command if
// the plugin process dies first.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
