// Command runtime-bench times the container cycle create + start + wait +
// delete of /bin/true in a busybox rootfs with skiff's runtime, runc and
// crun, and prints medians, p90, p99 and ratios; then the memory of one
// running container's supervisor.
//
// By default it measures the product's path: containers start from the
// shim the agent would use with -binary (bin/skiff by default; the shim
// embedded or beside it), and, as skiff-full, from the whole skiff binary
// (what the node did before the shim). skiff-self re-executes the
// benchmark itself: the runtime's own cost without any large binary.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	ctrruntime "github.com/skiff-sh/skiff/nodeagent/runtime"
	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
	"github.com/skiff-sh/skiff/nodeagent/shim"
)

// Keep namespace-switching goroutines off the main thread, as cmd/skiff
// does (docs/ARCHITECTURE.md, "Rules").
func init() { goruntime.LockOSThread() }

// crunLoopArg re-executes the benchmark in a private mount namespace where
// crun can run (see runCrunLoop).
const crunLoopArg = "__crun-loop"

func main() {
	if ctrruntime.RunReexecEntry() {
		return
	}
	if len(os.Args) > 1 && os.Args[1] == crunLoopArg {
		os.Exit(runCrunLoop(os.Args[2:]))
	}
	n := flag.Int("n", 100, "cycles per runtime")
	only := flag.String("only", "skiff,skiff-pod,skiff-full,runc,crun", "comma-separated subset of skiff,skiff-pod,skiff-full,skiff-self,runc,crun")
	binary := flag.String("binary", "bin/skiff", "the skiff binary: skiff runs its shim, skiff-full the binary itself")
	warm := flag.Int("warm", 0, "skiff: supervisors kept started ahead of Create (Config.WarmSupervisors)")
	gap := flag.Duration("gap", 0, "skiff: untimed pause between cycles (lets a warm pool refill)")
	flag.Parse()
	if err := run(*n, *only, skiffOpts{binary: *binary, warm: *warm, gap: *gap}); err != nil {
		fmt.Fprintln(os.Stderr, "runtime-bench:", err)
		os.Exit(1)
	}
}

// skiffOpts are the runtime settings under test.
type skiffOpts struct {
	binary string // the program supervisors and inits run as
	warm   int
	gap    time.Duration // untimed pause between cycles
}

// with returns o running binary.
func (o skiffOpts) with(binary string) skiffOpts { o.binary = binary; return o }

func run(n int, only string, opts skiffOpts) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root")
	}
	work, err := os.MkdirTemp("", "skiff-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bundle := filepath.Join(work, "bundle")
	if err := makeBusybox(filepath.Join(bundle, "rootfs")); err != nil {
		return err
	}
	if err := writeOCIConfig(bundle); err != nil {
		return err
	}
	want := func(name string) bool { return only == "" || strings.Contains(","+only+",", ","+name+",") }
	results := map[string][]time.Duration{}
	var order []string
	add := func(name string, f func() ([]time.Duration, error)) error {
		if !want(name) {
			return nil
		}
		fmt.Fprintf(os.Stderr, "%s: %d cycles...\n", name, n)
		ds, err := f()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		results[name] = ds
		order = append(order, name)
		return nil
	}
	rootfs := filepath.Join(bundle, "rootfs")
	full, err := filepath.Abs(opts.binary)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var shimPath string
	if want("skiff") || want("skiff-pod") {
		var source shim.Source
		shimPath, source, err = shim.Locate(filepath.Join(work, "shim"), full)
		if source == shim.SourceSelf {
			return fmt.Errorf("no shim for %s (%v): run make build", full, err)
		}
		fmt.Fprintf(os.Stderr, "shim: %s (%s)\n", shimPath, source)
	}
	if err := add("skiff", func() ([]time.Duration, error) { return benchSkiff(work, rootfs, opts.with(shimPath), n, false) }); err != nil {
		return err
	}
	if err := add("skiff-pod", func() ([]time.Duration, error) { return benchSkiff(work, rootfs, opts.with(shimPath), n, true) }); err != nil {
		return err
	}
	if err := add("skiff-full", func() ([]time.Duration, error) { return benchSkiff(work, rootfs, opts.with(full), n, false) }); err != nil {
		return err
	}
	if err := add("skiff-self", func() ([]time.Duration, error) { return benchSkiff(work, rootfs, opts.with(self), n, false) }); err != nil {
		return err
	}
	if err := add("runc", func() ([]time.Duration, error) { return benchOCI("runc", work, bundle, n) }); err != nil {
		return err
	}
	if err := add("crun", func() ([]time.Duration, error) { return benchCrun(work, bundle, n) }); err != nil {
		return err
	}
	report(order, results)
	fmt.Println()
	mem := map[string]string{"skiff": shimPath, "skiff-full": full, "skiff-self": self}
	var rows []memRow
	for _, name := range order {
		if bin, ok := mem[name]; ok && bin != "" {
			row, err := supervisorMemory(work, rootfs, opts.with(bin))
			if err != nil {
				return fmt.Errorf("%s memory: %w", name, err)
			}
			row.name = name
			rows = append(rows, row)
		}
	}
	if _, err := exec.LookPath("conmon"); err == nil && want("runc") {
		row, err := conmonMemory(work, bundle)
		if err != nil {
			return fmt.Errorf("conmon memory: %w", err)
		}
		rows = append(rows, row)
	}
	reportMemory(rows)
	return nil
}

// benchSkiff runs the cycle with skiff's runtime; inPod puts every
// container in one pre-made sandbox (the node agent's case) instead of
// fresh net/IPC/UTS namespaces of its own.
func benchSkiff(work, rootfs string, opts skiffOpts, n int, inPod bool) ([]time.Duration, error) {
	parent := fmt.Sprintf("skiff-bench-%d", os.Getpid())
	r, err := ctrruntime.New(ctrruntime.Config{
		StateDir:        filepath.Join(work, "skiff-state"),
		RunDir:          filepath.Join(work, "skiff-run"),
		Binary:          opts.binary,
		WarmSupervisors: opts.warm,
		Cgroups:         cgroups.Config{Parent: parent},
	})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	defer func() {
		if cg, err := cgroups.New(cgroups.Config{Parent: parent}, cgroups.ModeAuto, "."); err == nil {
			cg.Destroy()
		}
	}()
	sandbox := ""
	if inPod {
		sandbox = "benchpod"
		if _, err := r.CreateSandbox(ctrruntime.SandboxSpec{ID: sandbox, Hostname: "bench"}); err != nil {
			return nil, err
		}
		defer r.RemoveSandbox(sandbox)
	}
	ctx := context.Background()
	// Per-phase times, to see where a cycle goes.
	var phases [4][]time.Duration
	cycle := func(i int) error {
		id := fmt.Sprintf("b%04d", i)
		spec := ctrruntime.ContainerSpec{ID: id, SandboxID: sandbox, Layers: []string{rootfs},
			Command: []string{"/bin/true"}, Hostname: "bench"}
		t0 := time.Now()
		if _, err := r.Create(ctx, spec); err != nil {
			return err
		}
		t1 := time.Now()
		if err := r.Start(ctx, id); err != nil {
			r.Remove(ctx, id)
			return err
		}
		t2 := time.Now()
		st, err := r.Wait(ctx, id)
		if err != nil {
			return err
		}
		if st.ExitCode != 0 {
			return fmt.Errorf("exit %d: %s", st.ExitCode, st.Error)
		}
		t3 := time.Now()
		err = r.Remove(ctx, id)
		for p, d := range []time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), time.Since(t3)} {
			phases[p] = append(phases[p], d)
		}
		return err
	}
	ds, err := timeCycles(n, opts.gap, cycle)
	if err == nil {
		var parts []string
		for p, name := range []string{"create", "start", "wait", "remove"} {
			s := append([]time.Duration(nil), phases[p]...)
			sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
			parts = append(parts, name+" "+ms(percentile(s, 0.5)))
		}
		fmt.Fprintf(os.Stderr, "  phase medians: %s\n", strings.Join(parts, ", "))
	}
	return ds, err
}

// benchOCI runs `<rt> run` (create, start, wait, delete in one command).
func benchOCI(rt, work, bundle string, n int) ([]time.Duration, error) {
	root := filepath.Join(work, rt+"-state")
	return timeCycles(n, 0, func(i int) error {
		id := fmt.Sprintf("%s-bench-%d-%d", rt, os.Getpid(), i)
		out, err := exec.Command(rt, "--root", root, "run", "--bundle", bundle, id).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}

// benchCrun runs the crun loop in a private mount namespace without the
// cgroup2 "unified" mount: crun 1.8 refuses this hybrid layout otherwise.
func benchCrun(work, bundle string, n int) ([]time.Duration, error) {
	cmd := exec.Command("/proc/self/exe", crunLoopArg, work, bundle, fmt.Sprint(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes / rprivate too
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	var ns []int64
	if err := json.Unmarshal(out, &ns); err != nil {
		return nil, fmt.Errorf("crun loop output: %w", err)
	}
	ds := make([]time.Duration, len(ns))
	for i, v := range ns {
		ds[i] = time.Duration(v)
	}
	return ds, nil
}

func runCrunLoop(args []string) int {
	if err := syscall.Unmount("/sys/fs/cgroup/unified", syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT {
		fmt.Fprintln(os.Stderr, "umount unified:", err)
		return 1
	}
	var n int
	fmt.Sscan(args[2], &n)
	ds, err := benchOCI("crun", args[0], args[1], n)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ns := make([]int64, len(ds))
	for i, d := range ds {
		ns[i] = int64(d)
	}
	json.NewEncoder(os.Stdout).Encode(ns)
	return 0
}

// timeCycles runs 5 untimed warm-up cycles, then n timed ones, gap apart.
func timeCycles(n int, gap time.Duration, cycle func(i int) error) ([]time.Duration, error) {
	for i := range 5 {
		if err := cycle(n + i); err != nil {
			return nil, err
		}
	}
	ds := make([]time.Duration, 0, n)
	for i := range n {
		time.Sleep(gap)
		t0 := time.Now()
		if err := cycle(i); err != nil {
			return nil, err
		}
		ds = append(ds, time.Since(t0))
	}
	return ds, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

func report(order []string, results map[string][]time.Duration) {
	med := map[string]time.Duration{}
	fmt.Printf("%-10s %6s %10s %10s %10s %10s\n", "runtime", "n", "median", "p90", "p99", "min")
	for _, name := range order {
		ds := append([]time.Duration(nil), results[name]...)
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		med[name] = percentile(ds, 0.5)
		fmt.Printf("%-10s %6d %10s %10s %10s %10s\n", name, len(ds), ms(med[name]), ms(percentile(ds, 0.9)), ms(percentile(ds, 0.99)), ms(ds[0]))
	}
	if base, ok := med["skiff"]; ok && base > 0 {
		for _, name := range order {
			if name != "skiff" {
				fmt.Printf("%s / skiff median: %.2fx\n", name, float64(med[name])/float64(base))
			}
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
