//go:build !windows

package healing

import (
	"os/exec"
	"syscall"
)

// setGroup runs an exec check in its own process group and kills the whole
// group when the check times out.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}

// diskUsage is the used and available bytes of the file system holding
// path, as df counts them.
func diskUsage(path string) (used, avail uint64, err error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(path, &fs); err != nil {
		return 0, 0, err
	}
	bs := uint64(fs.Bsize)
	return (fs.Blocks - fs.Bfree) * bs, fs.Bavail * bs, nil
}

// pidAlive reports whether a process with this pid exists.
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
