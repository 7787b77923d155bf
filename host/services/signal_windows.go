//go:build windows

package services

import (
	"os"
	"syscall"
)

func procAttr() *syscall.SysProcAttr { return nil }

// signalGroup ends the process; Windows has no signals to send.
func signalGroup(pid int, _ syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

var signals = map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGKILL": syscall.SIGKILL}
