package pluginhost

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// procAttr starts a plugin as the leader of its own process group (so the
// group can be killed with its children) with a parent-death signal (so it
// goes away with the host, even after kill -9 of the host). The sdk also
// watches its parent pid as a second line of defence.
func procAttr(deathSig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSig}
}

// exitNotify returns a channel closed when process pid exits, learnt from
// a pidfd rather than by polling; nil when the kernel offers no pidfd.
func exitNotify(pid int) <-chan struct{} {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil
	}
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if n > 0 || err != nil {
				return
			}
		}
	}()
	return ch
}
