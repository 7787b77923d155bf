//go:build !linux && !windows

package services

import "syscall"

// procAttr starts a service in its own process group.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
