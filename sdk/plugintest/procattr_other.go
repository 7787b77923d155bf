//go:build unix && !linux

package plugintest

import "syscall"

// procAttr: without a parent-death signal the sdk's parent watch ends the
// plugin when the test process dies.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
