package cdp

import (
	"os/exec"
	"syscall"
)

// ownGroup puts Chromium and its helpers (zygote, renderers) in a process
// group of their own, killed with the test process if it dies.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the group Launch made, by the leader's PID.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
