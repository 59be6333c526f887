package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/e2e/vm/guest"
	"github.com/skiff-sh/skiff/internal/proccpu"
)

// guestIdleBudget is e2e's TestIdleCPU budget for an idle daemon (2 % of
// one core) scaled for the emulated CPU: Go programs run 4–12× slower
// under QEMU's TCG than on the host, so the same idle work takes up to 12×
// the CPU (24 %). (An idle `skiff up` is ~0.8 % of a host core; in the
// guest it measured 14–17 %, TLS and all.)
//
// A busy host inflates the guest's readings further: the guest's clock is
// the host's, so while QEMU's virtual CPU waits for a host core, the guest
// charges the wait to whatever it was running. The test divides that out:
// over the same window it reads the host CPU time QEMU used, and the ratio
// of the guest's busy time to it (the stretch, ≥ 1) is how much longer
// than its emulation each guest second of work took. The figures are thus
// the host CPU that emulating each process cost. A loop that never blocks
// keeps a virtual CPU busy for the whole window, so it reads 100 % divided
// by the stretch: it fails the budget whenever the host gives the guest's
// virtual CPU a quarter of a core or more (stretch < 4.2). The test logs
// what a busy loop would have read, so a pass on a starved host reads as
// what it is.
const (
	hostIdleBudget  = 2.0
	tcgSlowdown     = 12
	guestIdleBudget = hostIdleBudget * tcgSlowdown
)

// A whole single node — `skiff up` with TLS, its registry, DNS and agent —
// with one running pod stays within the idle budget on a pure cgroup v2
// kernel: the same reading of /proc/PID/stat as TestIdleCPU, for skiff up
// and the pod's container supervisor, taken inside the guest
// (e2e/vm/idlenode) over a window after the node settled.
func TestIdleCPUOnCgroupV2Guest(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an emulated guest for minutes: skipped in -short")
	}
	// Beside the runtime test's guest: the tier's wall time is the longer
	// of the two, and the stretch divides out what they take from each
	// other.
	t.Parallel()
	// The image's busybox is also what `skiff up` builds its demo image
	// from.
	root, kernel, work, im := guestStart(t)
	for _, b := range []struct{ pkg, out, tags string }{
		{"./cmd/skiff", "skiff", ""},
		// The shim beside skiff, with its tag, as `make build` leaves it.
		{"./cmd/skiff-shim", "skiff-shim", "seccomp_prebuilt"},
		{"./e2e/vm/idlenode", "idlenode", ""},
	} {
		cmd := exec.Command("go", "build", "-tags", b.tags, "-o", filepath.Join(work, b.out), b.pkg)
		cmd.Dir = root
		// Static: the guest has no C library.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
		im.File("/pkg/bin/"+b.out, filepath.Join(work, b.out), 0o755)
	}
	watch := &windowWatcher{initrd: filepath.Join(work, "initramfs.cpio"), tee: consoleLog(&lineLogger{prefix: "guest: "})}
	start := time.Now()
	res, err := guest.Boot(context.Background(), guest.Config{
		Kernel: kernel, Image: im, MemoryMB: 1536, CPUs: 2, Timeout: 8 * time.Minute, WorkDir: work,
		Console: watch,
		Steps: []guest.Step{{Name: "idle", Dir: "/pkg",
			Command: "./bin/idlenode -skiff /pkg/bin/skiff -settle 10s -window 20s"}},
	})
	if res != nil {
		t.Logf("guest (%s, kernel %s) ran for %v, QEMU used %v of CPU", res.Accel, kernel.Version,
			time.Since(start).Round(time.Second), res.CPU.Round(time.Second))
	}
	if err != nil {
		t.Fatalf("%v\nconsole:\n%s", err, tail(res))
	}
	s := res.Steps[0]
	if s.Exit != 0 {
		t.Fatalf("idlenode in the guest: exit %d\n%s", s.Exit, s.Output)
	}
	figures := regexp.MustCompile(`(?m)^idle-cpu: (\S+) pid=(\d+) ticks=(\d+) seconds=([0-9.]+)`).FindAllStringSubmatch(s.Output, -1)
	type figure struct {
		name, pid string
		ticks     int64
		window    time.Duration
	}
	var procs []figure
	var guestBusy int64
	for _, f := range figures {
		ticks, _ := strconv.ParseInt(f[3], 10, 64)
		secs, _ := strconv.ParseFloat(f[4], 64)
		if secs <= 0 {
			t.Fatalf("a window of %v s: %s", secs, f[0])
		}
		if f[1] == "guest-busy" {
			guestBusy = ticks
			continue
		}
		procs = append(procs, figure{f[1], f[2], ticks, time.Duration(secs * float64(time.Second))})
	}
	hostVCPU, err := watch.result()
	if err != nil {
		t.Fatalf("QEMU's CPU time over the window: %v\n%s", err, s.Output)
	}
	// How much longer than its emulation a guest second of work took;
	// never below 1 (the figures are not scaled up).
	stretch := 1.0
	if hostVCPU > 0 && guestBusy > hostVCPU {
		stretch = float64(guestBusy) / float64(hostVCPU)
	}
	t.Logf("over the window the guest's CPUs were busy %d ticks, QEMU ran %d ticks on the host: stretch %.2f", guestBusy, hostVCPU, stretch)
	if busyLoop := 100 / stretch; busyLoop > guestIdleBudget {
		t.Logf("a busy loop would have read %.0f %% here: over the budget", busyLoop)
	} else {
		t.Logf("a busy loop would have read only %.0f %% here, within the budget: the host gave the guest too little CPU for this run to catch one", busyLoop)
	}
	seen := map[string]int{}
	for _, p := range procs {
		raw := proccpu.Percent(p.ticks, p.window)
		pct := raw / stretch
		seen[p.name]++
		t.Logf("cgroup v2 guest, one pod: %-10s %6.2f %% of one core (%.2f %% as the guest counted it: %d ticks over %.0f s)",
			p.name, pct, raw, p.ticks, p.window.Seconds())
		if pct > guestIdleBudget {
			t.Errorf("%s (pid %s) used %.2f %% of one core over %.0f s (%.2f %% / stretch %.2f); budget %.0f %% (%.0f %% on the host × %d for TCG)",
				p.name, p.pid, pct, p.window.Seconds(), raw, stretch, guestIdleBudget, hostIdleBudget, tcgSlowdown)
		}
	}
	if seen["skiff-up"] != 1 || seen["supervisor"] < 1 || guestBusy == 0 {
		t.Fatalf("the guest reported %v and %d busy ticks, want skiff-up, the pod's supervisor and the guest's busy time:\n%s", seen, guestBusy, s.Output)
	}
}

// windowWatcher passes the console on to tee and, when idlenode marks the
// window's start and end, reads the CPU time of QEMU (the one this test
// started: a child of the test process booting initrd).
type windowWatcher struct {
	initrd string
	tee    io.Writer

	mu           sync.Mutex
	buf          []byte
	begin, end   int64
	began, ended bool
	err          error
}

const (
	windowBegin = "@@SKIFF-IDLE-WINDOW-BEGIN"
	windowEnd   = "@@SKIFF-IDLE-WINDOW-END"
)

func (w *windowWatcher) Write(p []byte) (int, error) {
	if w.tee != nil {
		w.tee.Write(p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if !w.began && bytes.Contains(w.buf, []byte(windowBegin)) {
		w.began = true
		w.begin, w.err = w.vcpuTicks()
	}
	if w.began && !w.ended && bytes.Contains(w.buf, []byte(windowEnd)) {
		w.ended = true
		var err error
		if w.end, err = w.vcpuTicks(); w.err == nil {
			w.err = err
		}
	}
	// Keep enough to find a marker split across writes.
	if n := len(w.buf); n > 4096 {
		w.buf = w.buf[n-len(windowBegin):]
	}
	return len(p), nil
}

func (w *windowWatcher) result() (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if !w.ended {
		return 0, errors.New("the guest marked no window")
	}
	return w.end - w.begin, nil
}

// vcpuTicks is the CPU time of the QEMU booting w.initrd, all its threads
// (its virtual CPUs and the device emulation that serves them; QEMU names
// no threads unless told to).
func (w *windowWatcher) vcpuTicks() (int64, error) {
	pid, err := w.qemu()
	if err != nil {
		return 0, err
	}
	return proccpu.Ticks(pid)
}

func (w *windowWatcher) qemu() (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || proccpu.ParentPID(pid) != os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(string(cmdline), "\x00"+w.initrd+"\x00") {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no QEMU child of this test boots %s", w.initrd)
}
