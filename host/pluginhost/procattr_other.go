//go:build !linux

package pluginhost

import "syscall"

// procAttr starts a plugin as the leader of its own process group. Without
// a parent-death signal, the sdk's parent watch ends plugins when the host
// dies.
func procAttr(syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// exitNotify is not available here: the supervisor polls instead.
func exitNotify(int) <-chan struct{} { return nil }
