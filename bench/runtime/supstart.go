package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// supStarts is how many supervisors supervisorStartup starts.
const supStarts = 40

// startupStats is a supervisor's start-up: from its exec until it waits
// for its job, its init forked (what Create's warm pool holds).
type startupStats struct {
	p50, p99       time.Duration // wall time
	cpu50, cpu99   time.Duration // the supervisor's CPU time at that moment
	proto50, proto time.Duration // the binary answering its protocol question (exec to exit), p50 and p99
}

// supervisorStartup starts bin as a container supervisor the way the
// runtime does (same arguments, descriptors, environment and session) and
// times it until its main thread blocks reading its job descriptor: the
// Go runtime has started, the init is forked, and a job would be taken.
// The job pipe is then closed: the supervisor kills its init and exits.
// The moment is found by polling /proc/PID/syscall (read(2) on fd 4)
// every ~30 µs, which costs the other CPU a little. The poll sleeps in
// nanosleep(2) on its own thread with a 1 ns timer slack: Go's time.Sleep
// rounds any wait under a millisecond up to one when nothing else runs,
// which made every reading a whole number of milliseconds late.
func supervisorStartup(bin string) (startupStats, error) {
	goruntime.LockOSThread() // the slack below is this thread's
	defer goruntime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0); err != nil {
		return startupStats{}, fmt.Errorf("timer slack: %w", err)
	}
	defer unix.Prctl(unix.PR_SET_TIMERSLACK, 0, 0, 0, 0) // back to the default
	var walls, cpus []time.Duration
	for range supStarts {
		wall, cpu, err := oneSupervisorStart(bin)
		if err != nil {
			return startupStats{}, err
		}
		walls, cpus = append(walls, wall), append(cpus, cpu)
	}
	var protos []time.Duration
	for range supStarts {
		t0 := time.Now()
		// The runtime's protocol check: a Go start and an answer, no work.
		if err := exec.Command(bin, "__skiff-protocol", "-").Run(); err != nil {
			return startupStats{}, err
		}
		protos = append(protos, time.Since(t0))
	}
	for _, s := range [][]time.Duration{walls, cpus, protos} {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	}
	return startupStats{p50: percentile(walls, 0.5), p99: percentile(walls, 0.99),
		cpu50: percentile(cpus, 0.5), cpu99: percentile(cpus, 0.99),
		proto50: percentile(protos, 0.5), proto: percentile(protos, 0.99)}, nil
}

func oneSupervisorStart(bin string) (wall, cpu time.Duration, err error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	defer readyR.Close()
	jobR, jobW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return 0, 0, err
	}
	// As nodeagent/runtime's startSupervisor: fd 3 ready, fd 4 job,
	// GOMAXPROCS=1, a session of its own.
	cmd := exec.Command(bin, "__skiff-supervise", "-")
	cmd.ExtraFiles = []*os.File{readyW, jobR}
	cmd.Env = []string{"GOMAXPROCS=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	t0 := time.Now()
	err = cmd.Start()
	readyW.Close()
	jobR.Close()
	if err != nil {
		jobW.Close()
		return 0, 0, err
	}
	defer cmd.Wait()
	defer jobW.Close() // EOF: the supervisor ends its init and exits
	sysFile := fmt.Sprintf("/proc/%d/syscall", cmd.Process.Pid)
	pause := unix.NsecToTimespec(20_000)
	for deadline := t0.Add(10 * time.Second); ; {
		if b, err := os.ReadFile(sysFile); err == nil && strings.HasPrefix(string(b), "0 0x4 ") {
			wall = time.Since(t0)
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return 0, 0, fmt.Errorf("supervisor %d did not wait for its job within 10 s", cmd.Process.Pid)
		}
		unix.Nanosleep(&pause, nil)
	}
	return wall, taskCPU(cmd.Process.Pid), nil
}

// taskCPU is the CPU time of all of a process's threads so far, from
// schedstat (nanoseconds, unlike stat's 10 ms ticks).
func taskCPU(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			ns += v
		}
	}
	return time.Duration(ns)
}
