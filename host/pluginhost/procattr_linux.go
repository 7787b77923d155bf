package pluginhost

import "syscall"

// procAttr starts a plugin as the leader of its own process group (so the
// group can be killed with its children) with a parent-death signal (so it
// goes away with the host, even after kill -9 of the host). The sdk also
// watches its parent pid as a second line of defence.
func procAttr(deathSig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSig}
}
