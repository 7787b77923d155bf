//go:build linux

package services

import "syscall"

// procAttr starts a service in its own process group and has the kernel
// kill it if the host process dies first, so no service outlives Heady.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
