//go:build !unix

package mdns

import "syscall"

func reuseControl(_, _ string, _ syscall.RawConn) error { return nil }
