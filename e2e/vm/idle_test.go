package vm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/e2e/vm/guest"
	"github.com/skiff-sh/skiff/internal/proccpu"
)

// guestIdleBudget is e2e's TestIdleCPU budget for an idle daemon (2 % of
// one core) scaled for the emulated CPU: Go programs run 4–12× slower
// under QEMU's TCG than on the host, and the guest's kernel counts that
// time as the daemon's, so the same work shows up to 12× larger (24 %).
// A loop that never blocks still costs a whole virtual CPU (100 %): the
// class of bug the budget is for fails it four times over.
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
	bb, applets := needs(t)
	root := repoRoot(t)
	kernel, err := guest.FetchKernel(filepath.Join(root, ".cache", "vm"))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	im := guest.NewInitramfs()
	// busybox is also what `skiff up` builds its demo image from.
	im.Busybox(bb, applets)
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
	start := time.Now()
	res, err := guest.Boot(context.Background(), guest.Config{
		Kernel: kernel, Image: im, MemoryMB: 1536, CPUs: 2, Timeout: 8 * time.Minute, WorkDir: work,
		Console: consoleLog(&lineLogger{prefix: "guest: "}),
		Steps: []guest.Step{{Name: "idle", Dir: "/pkg",
			Command: "./bin/idlenode -skiff /pkg/bin/skiff -settle 15s -window 30s"}},
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
	seen := map[string]int{}
	for _, f := range figures {
		ticks, _ := strconv.ParseInt(f[3], 10, 64)
		secs, _ := strconv.ParseFloat(f[4], 64)
		if secs <= 0 {
			t.Fatalf("a window of %v s: %s", secs, f[0])
		}
		pct := proccpu.Percent(ticks, time.Duration(secs*float64(time.Second)))
		seen[f[1]]++
		t.Logf("cgroup v2 guest, one pod: %-10s %6.2f %% of one core (%d ticks over %.0f s)", f[1], pct, ticks, secs)
		if pct > guestIdleBudget {
			t.Errorf("%s (pid %s) used %.2f %% of one core over %.0f s; budget %.0f %% (%.0f %% on the host × %d for TCG)",
				f[1], f[2], pct, secs, guestIdleBudget, hostIdleBudget, tcgSlowdown)
		}
	}
	if seen["skiff-up"] != 1 || seen["supervisor"] < 1 {
		t.Fatalf("the guest reported %v, want skiff-up and the pod's supervisor:\n%s", seen, s.Output)
	}
}
