package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/teardown"
)

// daemon is one process of a node: its env file (the command line), PID
// file and log, all in the node's state dir.
type daemon struct {
	node, role string // role: "server" or "agent"
	dir        string // the node's state dir
	netns, uts string
}

func (d daemon) envFile() string { return filepath.Join(d.dir, d.role+".env") }
func (d daemon) pidFile() string { return filepath.Join(d.dir, d.role+".pid") }
func (d daemon) logFile() string { return filepath.Join(d.dir, d.role+".log") }

// start runs binary with the env file's arguments, detached (a session of
// its own, stdin from /dev/null, output appended to the log) inside the
// node's namespaces, and records its PID. A daemon already running is
// left alone (started is false).
func (d daemon) start(binary string) (started bool, err error) {
	if _, ok := d.pid(); ok {
		return false, nil
	}
	args, err := ReadEnvFile(d.envFile())
	if err != nil {
		return false, err
	}
	log, err := os.OpenFile(d.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return false, fmt.Errorf("cluster: %w", err)
	}
	defer log.Close()
	fmt.Fprintf(log, "--- %s: skiff %s\n", time.Now().Format(time.RFC3339), strings.Join(args, " "))
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "SKIFF_CLUSTER_NODE="+d.node)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := startIn(d.netns, d.uts, cmd); err != nil {
		return false, fmt.Errorf("cluster: start %s on %s: %w", d.role, d.node, err)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release() // detached: init (or a subreaper) reaps it
	if err := os.WriteFile(d.pidFile(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return true, err
	}
	d.awaitCmdline(pid)
	return true, nil
}

// awaitCmdline waits (briefly) until the new process's command line can be
// read. Start returns once execve has closed our pipe, but the kernel sets
// the new command line a little later; pid would meanwhile read an empty
// one and take the daemon for exited.
func (d daemon) awaitCmdline(pid int) {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(cmdline) > 0 || !teardown.Running(pid) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// pid is the daemon's PID if it runs. A PID is only believed when the
// process's command line still names this node's data (PIDs get reused).
func (d daemon) pid() (int, bool) {
	data, err := os.ReadFile(d.pidFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(d.dir)) {
		return 0, false
	}
	// A zombie (exited, not yet reaped) no longer runs.
	if !teardown.Running(pid) {
		return 0, false
	}
	return pid, true
}

// stop sends SIGTERM, waits up to grace for the process to go, then sends
// SIGKILL. Containers are not its children's children in any way that
// matters: they keep running (the agent's documented behaviour).
func (d daemon) stop(grace time.Duration) error {
	pid, ok := d.pid()
	if !ok {
		os.Remove(d.pidFile())
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("cluster: stop %s on %s (pid %d): %w", d.role, d.node, pid, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if _, ok := d.pid(); !ok {
			os.Remove(d.pidFile())
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100; i++ {
		if _, ok := d.pid(); !ok {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(d.pidFile())
	return fmt.Errorf("cluster: %s on %s did not stop within %s of SIGTERM; killed", d.role, d.node, grace)
}

// tail is the end of the daemon's log, for error messages.
func (d daemon) tail(n int) string {
	data, _ := os.ReadFile(d.logFile())
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
