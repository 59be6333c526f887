package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	ctrruntime "github.com/skiff-sh/skiff/nodeagent/runtime"
	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
)

// runner runs one runtime's cycle; every runner's cycles are interleaved
// so that all see the same load on a shared machine.
type runner struct {
	name  string
	cycle func(i int) (time.Duration, error)
	close func()
	// after prints extra detail once the cycles are done.
	after func()
}

// skiffRunner times skiff's cycle; inPod puts every container in one
// pre-made sandbox (the node agent's case) instead of fresh net/IPC/UTS
// namespaces of its own.
func skiffRunner(name, work, rootfs string, opts skiffOpts, inPod bool) (*runner, error) {
	parent := fmt.Sprintf("skiff-bench-%d-%s", os.Getpid(), name)
	r, err := ctrruntime.New(ctrruntime.Config{
		StateDir:        filepath.Join(work, name+"-state"),
		RunDir:          filepath.Join(runRoot(work), name),
		Binary:          opts.binary,
		WarmSupervisors: opts.warm,
		GoInit:          opts.goInit,
		Cgroups:         cgroups.Config{Parent: parent},
	})
	if err != nil {
		return nil, err
	}
	sandbox := ""
	closeAll := func() {
		r.Close()
		if sandbox != "" {
			r.RemoveSandbox(sandbox)
		}
		if cg, err := cgroups.New(cgroups.Config{Parent: parent}, cgroups.ModeAuto, "."); err == nil {
			cg.Destroy()
		}
	}
	if inPod {
		sandbox = "benchpod"
		if _, err := r.CreateSandbox(ctrruntime.SandboxSpec{ID: sandbox, Hostname: "bench"}); err != nil {
			sandbox = ""
			closeAll()
			return nil, err
		}
	}
	ctx := context.Background()
	var phases [4][]time.Duration // create, start, wait, remove
	cycle := func(i int) (time.Duration, error) {
		id := fmt.Sprintf("b%04d", i)
		spec := ctrruntime.ContainerSpec{ID: id, SandboxID: sandbox, Layers: []string{rootfs},
			Command: []string{"/bin/true"}, Hostname: "bench"}
		t0 := time.Now()
		if _, err := r.Create(ctx, spec); err != nil {
			return 0, err
		}
		t1 := time.Now()
		if err := r.Start(ctx, id); err != nil {
			r.Remove(ctx, id)
			return 0, err
		}
		t2 := time.Now()
		st, err := r.Wait(ctx, id)
		if err != nil {
			return 0, err
		}
		if st.ExitCode != 0 {
			return 0, fmt.Errorf("exit %d: %s", st.ExitCode, st.Error)
		}
		t3 := time.Now()
		err = r.Remove(ctx, id)
		for p, d := range []time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), time.Since(t3)} {
			phases[p] = append(phases[p], d)
		}
		return time.Since(t0), err
	}
	after := func() {
		var parts []string
		for p, phase := range []string{"create", "start", "wait", "remove"} {
			s := append([]time.Duration(nil), phases[p]...)
			sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
			parts = append(parts, phase+" "+ms(percentile(s, 0.5)))
		}
		fmt.Fprintf(os.Stderr, "%s phase medians: %s\n", name, strings.Join(parts, ", "))
	}
	return &runner{name: name, cycle: cycle, close: closeAll, after: after}, nil
}

// ociRunner times `<rt> run` (create, start, wait, delete in one command).
func ociRunner(rt, work, bundle string) *runner {
	root := filepath.Join(runRoot(work), rt)
	return &runner{name: rt, cycle: func(i int) (time.Duration, error) {
		return ociCycle(rt, root, bundle, i)
	}}
}

func ociCycle(rt, root, bundle string, i int) (time.Duration, error) {
	id := fmt.Sprintf("%s-bench-%d-%d", rt, os.Getpid(), i)
	t0 := time.Now()
	out, err := exec.Command(rt, "--root", root, "run", "--bundle", bundle, id).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	return time.Since(t0), nil
}

// crunRunner drives a helper in a private mount namespace without the
// cgroup2 "unified" mount, where crun 1.8 runs on this hybrid layout:
// one line in asks for a cycle, one line out gives its time.
func crunRunner(work, bundle string) (*runner, error) {
	cmd := exec.Command("/proc/self/exe", crunLoopArg, work, bundle)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes / rprivate too
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	out := bufio.NewReader(outPipe)
	cycle := func(i int) (time.Duration, error) {
		if _, err := fmt.Fprintln(in, i); err != nil {
			return 0, err
		}
		line, err := out.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("crun helper: %w", err)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("crun: %s", strings.TrimSpace(line))
		}
		return time.Duration(ns), nil
	}
	return &runner{name: "crun", cycle: cycle, close: func() { in.Close(); cmd.Wait() }}, nil
}

// runCrunLoop is the crun helper: it answers each cycle number read with
// the cycle's time in ns, or an error line.
func runCrunLoop(args []string) int {
	if err := syscall.Unmount("/sys/fs/cgroup/unified", syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT {
		fmt.Fprintln(os.Stderr, "umount unified:", err)
		return 1
	}
	root := filepath.Join(runRoot(args[0]), "crun")
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadString('\n')
		if err == io.EOF {
			return 0
		}
		if err != nil {
			return 1
		}
		i, _ := strconv.Atoi(strings.TrimSpace(line))
		d, err := ociCycle("crun", root, args[1], i)
		if err != nil {
			fmt.Println(strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Println(int64(d))
	}
}

// interleave runs 5 untimed warm-up cycles of each runner, then n timed
// rounds in which every runner runs one cycle, gap apart, starting with a
// different runner each round.
func interleave(runners []*runner, n int, gap time.Duration) (map[string][]time.Duration, error) {
	for _, r := range runners {
		for i := range 5 {
			if _, err := r.cycle(n + i); err != nil {
				return nil, fmt.Errorf("%s: %w", r.name, err)
			}
		}
	}
	out := map[string][]time.Duration{}
	for i := range n {
		for k := range runners {
			r := runners[(i+k)%len(runners)]
			time.Sleep(gap)
			d, err := r.cycle(i)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.name, err)
			}
			out[r.name] = append(out[r.name], d)
		}
	}
	return out, nil
}
