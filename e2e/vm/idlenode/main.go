// Command idlenode runs inside a VM tier guest (TestIdleCPUOnCgroupV2Guest):
// it starts a whole single-node cluster with `skiff up` (TLS on, as the
// product runs), runs one busybox pod from the demo image `skiff up`
// pushes into its registry, lets the node settle, and prints the CPU
// ticks `skiff up` and the pod's container supervisors used over a window,
// one line each:
//
//	idle-cpu: NAME pid=PID ticks=N seconds=S
//
// The host test turns the lines into shares of a core and applies the
// budget. Any failure exits non-zero with skiff up's log.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/skiff-sh/skiff/internal/proccpu"
)

// supervisorArg is the re-exec argument of a container's supervisor.
const supervisorArg = "__skiff-supervise"

const pod = `apiVersion: skiff/v1
kind: Pod
metadata:
  name: idle
  labels: {app: idle}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sleep
    image: 127.0.0.1:5000/demo:latest
    command: [sleep, "100000"]
`

func main() {
	skiff := flag.String("skiff", "/pkg/bin/skiff", "the skiff binary (its shim beside it)")
	dir := flag.String("dir", "/run/idle", "data, run and config directory")
	settle := flag.Duration("settle", 15*time.Second, "wait after the pod runs, before the window")
	window := flag.Duration("window", 30*time.Second, "the measuring window")
	flag.Parse()
	if err := run(*skiff, *dir, *settle, *window); err != nil {
		fmt.Fprintln(os.Stderr, "idlenode:", err)
		os.Exit(1)
	}
}

func run(skiff, dir string, settle, window time.Duration) error {
	cfg := filepath.Join(dir, "config")
	for _, d := range []string{"data", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	var log lockedBuffer
	up := exec.Command(skiff, "up", "--data-dir", filepath.Join(dir, "data"), "--run-dir", filepath.Join(dir, "run"),
		"--write-config", cfg,
		// Nothing answers there: other names get SERVFAIL.
		"--dns-upstream", "127.0.0.1:5353")
	up.Stdout, up.Stderr = &log, &log
	if err := up.Start(); err != nil {
		return err
	}
	// done closes when skiff up has exited, with its error in waitErr.
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = up.Wait(); close(done) }()
	err := measure(skiff, cfg, up.Process.Pid, func() error {
		select {
		case <-done:
			return fmt.Errorf("skiff up exited: %v", waitErr)
		default:
			return nil
		}
	}, &log, settle, window)
	up.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(time.Minute):
		up.Process.Kill()
		<-done
	}
	if err != nil {
		return fmt.Errorf("%w\nskiff up log (tail):\n%s", err, tail(log.String(), 60))
	}
	return nil
}

func measure(skiff, cfg string, upPID int, exited func() error, log *lockedBuffer, settle, window time.Duration) error {
	cli := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, skiff, args...)
		cmd.Env = append(os.Environ(), "SKIFF_CONFIG="+cfg)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("skiff %s: %w: %s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), nil
	}
	start := time.Now()
	if err := waitFor("the cluster to be ready", 4*time.Minute, exited, func() (bool, error) {
		if !strings.Contains(log.String(), "cluster ready") {
			return false, nil
		}
		out, err := cli("get", "nodes")
		return err == nil && strings.Contains(out, "Ready"), err
	}); err != nil {
		return err
	}
	fmt.Printf("cluster ready after %v\n", time.Since(start).Round(time.Second))
	manifest := filepath.Join(filepath.Dir(cfg), "pod.yaml")
	if err := os.WriteFile(manifest, []byte(pod), 0o644); err != nil {
		return err
	}
	if out, err := cli("apply", "-f", manifest); err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	if err := waitFor("the pod to run", 4*time.Minute, exited, func() (bool, error) {
		out, err := cli("get", "pods", "-o", "json")
		if err != nil {
			return false, err
		}
		var list struct {
			Items []struct{ Status struct{ Phase string } }
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			return false, fmt.Errorf("get pods -o json: %w", err)
		}
		return len(list.Items) == 1 && list.Items[0].Status.Phase == "Running", nil
	}); err != nil {
		return err
	}
	fmt.Printf("pod running after %v\n", time.Since(start).Round(time.Second))
	time.Sleep(settle)
	sups, err := proccpu.Children(map[int]bool{upPID: true}, filepath.Join(filepath.Dir(skiff), "skiff-shim"), supervisorArg)
	if err != nil {
		return err
	}
	if len(sups) == 0 {
		return errors.New("no container supervisor is a child of skiff up")
	}
	procs := []struct {
		name string
		pid  int
	}{{"skiff-up", upPID}}
	for _, pid := range sups {
		procs = append(procs, struct {
			name string
			pid  int
		}{"supervisor", pid})
	}
	before := make([]int64, len(procs))
	for i, p := range procs {
		if before[i], err = proccpu.Ticks(p.pid); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	idle0, cpus, err := idleTicks()
	if err != nil {
		return err
	}
	// The host reads QEMU's virtual CPU threads between these markers,
	// written to the console as they happen (the step's own output
	// reaches the console only when it ends).
	mark("@@SKIFF-IDLE-WINDOW-BEGIN")
	t0 := time.Now()
	time.Sleep(window)
	elapsed := time.Since(t0)
	mark("@@SKIFF-IDLE-WINDOW-END")
	idle1, _, err := idleTicks()
	if err != nil {
		return err
	}
	// Busy is every CPU's time over the window but what it spent idle.
	busy := int64(float64(cpus)*elapsed.Seconds()*proccpu.ClockTicks) - (idle1 - idle0)
	fmt.Printf("idle-cpu: guest-busy pid=0 ticks=%d seconds=%.3f (%d CPUs, %.2f %% of one core)\n",
		busy, elapsed.Seconds(), cpus, proccpu.Percent(busy, elapsed))
	for i, p := range procs {
		n, err := proccpu.Ticks(p.pid)
		if err != nil {
			return fmt.Errorf("%s (pid %d) is gone after the window: %w", p.name, p.pid, err)
		}
		fmt.Printf("idle-cpu: %s pid=%d ticks=%d seconds=%.3f (%.2f %% of one core)\n",
			p.name, p.pid, n-before[i], elapsed.Seconds(), proccpu.Percent(n-before[i], elapsed))
	}
	return nil
}

// idleTicks is the time the guest's CPUs spent idle (idle and iowait
// from /proc/stat, which the kernel keeps exactly on a tickless kernel,
// unlike its sampled user and system figures) and how many CPUs it has.
func idleTicks() (idle int64, cpus int, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	lines := strings.Split(string(data), "\n")
	f := strings.Fields(lines[0])
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: first line %q", lines[0])
	}
	for _, v := range f[4:6] { // idle, iowait
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		idle += n
	}
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "cpu") {
			cpus++
		}
	}
	return idle, cpus, nil
}

// mark writes a line to the console at once.
func mark(line string) {
	if f, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
}

// waitFor polls cond each second until it holds, exited returns an error
// or the deadline passes; the last error cond returned goes into the
// failure.
func waitFor(what string, timeout time.Duration, exited func() error, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if err := exited(); err != nil {
			return fmt.Errorf("%w while waiting for %s", err, what)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %v for %s: %v", timeout, what, last)
		}
		time.Sleep(time.Second)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
