package plugintest

import "syscall"

// procAttr starts a plugin in its own process group and has the kernel
// signal it when the test process dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
