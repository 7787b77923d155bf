//go:build unix

package mcpscan

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the server in its own process group so that
// everything it spawns is stopped with it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
