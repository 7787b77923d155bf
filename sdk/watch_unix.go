//go:build unix

package sdk

import (
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// HostPIDEnv is the environment variable in which the host passes its pid
// to the plugins it starts.
const HostPIDEnv = "HEADY_HOST_PID"

// watchHost makes the plugin exit when its host goes away. The host starts
// plugins with a parent-death signal (SIGTERM) in their own process group;
// as a second line of defence the plugin polls its parent pid, which changes
// when the parent dies (the plugin is re-parented). On either, the plugin
// closes its components, kills its process group (children it started)
// and exits. SIGTERM and SIGHUP are handled the same way.
func watchHost(shutdown func()) {
	ppid := os.Getppid()
	if v, err := strconv.Atoi(os.Getenv(HostPIDEnv)); err == nil && v > 0 {
		// The host said who it is: if our parent is already someone else,
		// the host died before we got here.
		ppid = v
	}
	var once sync.Once
	exit := func() {
		once.Do(func() {
			done := make(chan struct{})
			go func() { shutdown(); close(done) }()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
			}
			if pgid, err := syscall.Getpgid(0); err == nil && pgid == os.Getpid() {
				// Our own group: the children we started. SIGKILL to the
				// group includes us, which is the exit we want.
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
			os.Exit(0)
		})
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		exit()
	}()
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for range t.C {
			if os.Getppid() != ppid {
				exit()
				return
			}
		}
	}()
}
