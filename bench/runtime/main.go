// Command runtime-bench times the container cycle create + start + wait +
// delete of /bin/true in a busybox rootfs with skiff's runtime, runc and
// crun, and prints medians, p90, p99 and ratios; then the memory of one
// running container's supervisor.
//
// By default it measures the product's path: containers start from the
// shim the agent would use with -binary (bin/skiff by default; the shim
// embedded or beside it, each container set up by the init program);
// skiff-goinit is the same shim with the Go init (Config.GoInit: the node
// before the init program); skiff-full re-executes the whole skiff binary
// (the node before the shim). skiff-self re-executes the
// benchmark itself: the runtime's own cost without any large binary.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	ctrruntime "github.com/skiff-sh/skiff/nodeagent/runtime"
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
	only := flag.String("only", "skiff,skiff-goinit,skiff-pod,skiff-full,runc,crun", "comma-separated subset of skiff,skiff-goinit,skiff-pod,skiff-full,skiff-self,runc,crun")
	binary := flag.String("binary", "bin/skiff", "the skiff binary: skiff runs its shim, skiff-full the binary itself")
	warm := flag.Int("warm", 0, "skiff: supervisors kept started ahead of Create (Config.WarmSupervisors)")
	gap := flag.Duration("gap", 0, "skiff: untimed pause between cycles (lets a warm pool refill)")
	flag.Parse()
	if err := run(*n, *only, skiffOpts{binary: *binary, warm: *warm, gap: *gap}); err != nil {
		fmt.Fprintln(os.Stderr, "runtime-bench:", err)
		os.Exit(1)
	}
}

// runRoot holds every runtime's state that a reboot ends: skiff's RunDir
// (the agent mounts a tmpfs on its own), runc's and crun's --root (/run, a
// tmpfs on a standard Debian, though not on every machine).
func runRoot(work string) string { return filepath.Join(work, "run") }

// mountRunRoot makes runRoot(work) a tmpfs, so that each runtime keeps its
// live state where it does on a standard node.
func mountRunRoot(work string) error {
	dir := runRoot(work)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount a tmpfs on %s: %w", dir, err)
	}
	return nil
}

// skiffOpts are the runtime settings under test.
type skiffOpts struct {
	binary string // the program supervisors and inits run as
	warm   int
	gap    time.Duration // untimed pause between cycles
	goInit bool          // containers start from the Go init (Config.GoInit)
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
	if err := mountRunRoot(work); err != nil {
		return err
	}
	defer unix.Unmount(runRoot(work), unix.MNT_DETACH)
	bundle := filepath.Join(work, "bundle")
	if err := makeBusybox(filepath.Join(bundle, "rootfs")); err != nil {
		return err
	}
	if err := writeOCIConfig(bundle); err != nil {
		return err
	}
	want := func(name string) bool { return only == "" || strings.Contains(","+only+",", ","+name+",") }
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
	if want("skiff") || want("skiff-goinit") || want("skiff-pod") {
		var source shim.Source
		shimPath, source, err = shim.Locate(filepath.Join(work, "shim"), full)
		if source == shim.SourceSelf {
			return fmt.Errorf("no shim for %s (%v): run make build", full, err)
		}
		fmt.Fprintf(os.Stderr, "shim: %s (%s)\n", shimPath, source)
	}
	var runners []*runner
	defer func() {
		for _, r := range runners {
			if r.close != nil {
				r.close()
			}
		}
	}()
	for _, v := range []struct {
		name, binary  string
		inPod, goInit bool
	}{{"skiff", shimPath, false, false}, {"skiff-goinit", shimPath, false, true}, {"skiff-pod", shimPath, true, false},
		{"skiff-full", full, false, false}, {"skiff-self", self, false, false}} {
		if want(v.name) {
			o := opts.with(v.binary)
			o.goInit = v.goInit
			r, err := skiffRunner(v.name, work, rootfs, o, v.inPod)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			runners = append(runners, r)
		}
	}
	if want("runc") {
		runners = append(runners, ociRunner("runc", work, bundle))
	}
	if want("crun") {
		r, err := crunRunner(work, bundle)
		if err != nil {
			return fmt.Errorf("crun: %w", err)
		}
		runners = append(runners, r)
	}
	var order []string
	for _, r := range runners {
		order = append(order, r.name)
	}
	fmt.Fprintf(os.Stderr, "%d interleaved rounds of %s...\n", n, strings.Join(order, ", "))
	results, err := interleave(runners, n, opts.gap)
	if err != nil {
		return err
	}
	for _, r := range runners {
		if r.after != nil {
			r.after()
		}
	}
	report(order, results)
	fmt.Println()
	mem := map[string]string{"skiff": shimPath, "skiff-goinit": shimPath, "skiff-full": full, "skiff-self": self}
	var rows []memRow
	for _, name := range order {
		if bin, ok := mem[name]; ok && bin != "" {
			o := opts.with(bin)
			o.goInit = name == "skiff-goinit"
			row, err := supervisorMemory(work, rootfs, o)
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
