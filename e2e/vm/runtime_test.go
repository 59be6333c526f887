// Package vm is the VM test tier: tests that boot QEMU guests with their
// own kernel (Debian's cloud kernel, pure cgroup v2) and run the node's
// runtime tests there, so the path most users' machines take — no v1
// controllers at all — runs in every `make test`, whatever the host's
// cgroup layout.
package vm

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/e2e/vm/guest"
	"github.com/skiff-sh/skiff/internal/qemu"
)

// repoRoot is the module's directory (the kernel cache lives in its
// .cache, which git ignores).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// needs skips when a tool `make deps` installs is missing.
func needs(t testing.TB) (busybox string, applets []string) {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("needs qemu-system-x86_64 (make deps installs qemu-system-x86)")
	}
	bb := "/bin/busybox"
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Skip("needs busybox-static at /bin/busybox (make deps)")
	}
	if b, _ := exec.Command("file", "-L", bb).Output(); strings.Contains(string(b), "dynamically") {
		t.Skip("/bin/busybox is dynamically linked; needs busybox-static")
	}
	return bb, strings.Fields(string(out))
}

// guestStart is what every guest of the tier starts from: the repository
// root, the cached kernel (`make vm-kernel`), a work directory and an
// initramfs holding busybox. It skips when a tool is missing (see needs).
func guestStart(t testing.TB) (root string, kernel *qemu.Kernel, work string, im *qemu.Initramfs) {
	t.Helper()
	bb, applets := needs(t)
	root = repoRoot(t)
	kernel, err := qemu.FetchKernel(filepath.Join(root, ".cache", "vm"))
	if err != nil {
		t.Fatal(err)
	}
	im = qemu.NewInitramfs()
	im.Busybox(bb, applets)
	return root, kernel, t.TempDir(), im
}

// testBinary compiles pkg's tests into a static binary (no cgo: the guest
// has no C library) in dir.
func testBinary(t *testing.T, root, pkg, dir string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg)+".test")
	cmd := exec.Command("go", "test", "-c", "-o", out, "./"+pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test -c ./%s: %v\n%s", pkg, err, b)
	}
	return out
}

// The node runtime's tests that depend on the kernel's cgroups, devices
// and mounts run in the guest, in two shards at once (one per virtual
// CPU): limits and their readings, OOM kills, pods' cgroups, freezing,
// killing, escape attempts, device control, re-adoption by a new
// runtime, the leak check, overlay mounts, exec joining the cgroup, the
// capabilities and seccomp filters. The others (logs, env files, subpath
// resolution…) do not change with the cgroup version and would cost
// minutes of an emulated CPU.
var (
	shardA = []string{"TestHundredContainersLeaveNothingBehind", "TestEscapeAttemptsFail", "TestMemoryLimitOOMKilled",
		"TestContainerSurvivesItsStarterAndIsReadopted", "TestPrivilegedLiftsLockdown", "TestDevicesOutsideTheAllowListDoNotOpen"}
	shardB = []string{"TestCPUQuotaVisibleInUsage", "TestPidsLimitForkFails", "TestPodsHaveAPidsLimitByDefault",
		"TestPauseResume", "TestStopEscalatesToKill", "TestSandboxContainersAndTeardown", "TestManyLayersOverlay", "TestManyLayersThroughLinks",
		"TestOverlayDeleteLeavesLowerIntact", "TestExecExitCodeAndStreams", "TestContainerCaps",
		"TestForcedDropsApplyAfterAdds", "TestSeccompIsAnAllowList", "TestSeccompFollowsCapabilities"}
)

func runPattern(names []string) string { return "'^(" + strings.Join(names, "|") + ")$'" }

func TestRuntimeOnCgroupV2Guest(t *testing.T) {
	if testing.Short() {
		t.Skip("boots an emulated guest for minutes: skipped in -short")
	}
	// Beside the tier's other guests: each waits on its guest far more
	// than it uses the host's CPUs.
	t.Parallel()
	root, kernel, work, im := guestStart(t)
	pkgs := []string{"nodeagent/runtime/cgroups", "nodeagent/runtime"}
	for _, pkg := range pkgs {
		bin := testBinary(t, root, pkg, work)
		im.File("/pkg/"+pkg+"/"+filepath.Base(bin), bin, 0o755)
	}
	// Ten create/remove cycles instead of a hundred: the same checks, at
	// an emulated CPU's speed; and deadlines four times as long, for the
	// guest gets little CPU while the host runs other tests (a run that
	// took 5 min used 46 s of CPU).
	env := []string{"SKIFF_TEST_LEAK_CYCLES=10", "SKIFF_TEST_TIMEOUT_SCALE=4"}
	start := time.Now()
	steps := []guest.Step{
		// The guest must be what the tier claims: cgroup2 alone, with
		// the controllers skiff limits with.
		{Name: "cgroup-layout", Dir: "/", Command: `cat /sys/fs/cgroup/cgroup.controllers; echo v1-mounts: $(grep -c ' cgroup ' /proc/mounts)`},
		// The v1 test needs v1 hierarchies, which the guest has none of.
		{Name: "cgroups", Dir: "/pkg/nodeagent/runtime/cgroups", Command: `./cgroups.test -test.v -test.count=1 -test.timeout=4m -test.skip '^TestV1Real'`},
		{Name: "runtime-a", Dir: "/pkg/nodeagent/runtime", Env: env,
			Command: `./runtime.test -test.v -test.count=1 -test.timeout=8m -test.run ` + runPattern(shardA)},
		{Name: "runtime-b", Dir: "/pkg/nodeagent/runtime", Env: env,
			Command: `./runtime.test -test.v -test.count=1 -test.timeout=8m -test.run ` + runPattern(shardB)},
	}
	log := &lineLogger{prefix: "guest: "}
	res, err := guest.Boot(context.Background(), guest.Config{
		Kernel:   kernel,
		Image:    im,
		Steps:    steps,
		MemoryMB: 1536,
		CPUs:     2,
		Timeout:  9 * time.Minute,
		WorkDir:  work,
		Console:  consoleLog(log),
	})
	if res != nil {
		t.Logf("guest (%s, kernel %s) ran for %v, QEMU used %v of CPU", res.Accel, kernel.Version,
			time.Since(start).Round(time.Second), res.CPU.Round(time.Second))
	}
	if err != nil {
		t.Fatalf("%v\nconsole:\n%s", err, tail(res))
	}
	byName := map[string]guest.StepResult{}
	for _, s := range res.Steps {
		byName[s.Name] = s
	}
	layout := byName["cgroup-layout"]
	if ctrl := strings.Fields(layout.Output); !contains(ctrl, "cpu") || !contains(ctrl, "memory") ||
		!contains(ctrl, "pids") || !strings.Contains(layout.Output, "v1-mounts: 0") {
		t.Fatalf("the guest is not pure cgroup v2 with cpu, memory and pids:\n%s", layout.Output)
	}
	for _, step := range steps[1:] {
		s, ok := byName[step.Name]
		if !ok || s.Exit != 0 {
			t.Errorf("%s in the guest: exit %d\n%s", step.Name, s.Exit, failures(s.Output))
		}
		// Nothing the guest lacks may skip: it has every controller
		// and kernel feature the tests ask for.
		if skips := regexp.MustCompile(`--- SKIP: \S+`).FindAllString(s.Output, -1); len(skips) > 0 {
			t.Errorf("%s in the guest skipped %v:\n%s", step.Name, skips, s.Output)
		}
		if !strings.Contains(s.Output, "--- PASS: ") {
			t.Errorf("%s in the guest passed no test:\n%s", step.Name, s.Output)
		}
	}
	// A renamed test would drop out of a shard silently.
	for _, name := range append(append([]string{"TestV2RealUnified", "TestV2DeviceProgram"}, shardA...), shardB...) {
		if !strings.Contains(res.Console, "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass in the guest", name)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// failures cuts a go test -v output down to the failing tests' lines and
// what they logged (the whole output when nothing failed by name).
func failures(out string) string {
	if !strings.Contains(out, "--- FAIL") {
		return out
	}
	var keep []string
	var block []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "=== RUN") {
			block = nil
		}
		block = append(block, line)
		if strings.Contains(line, "--- FAIL") {
			keep = append(keep, block...)
			block = nil
		}
	}
	return strings.Join(keep, "\n")
}

func tail(res *guest.Result) string {
	if res == nil {
		return ""
	}
	c := res.Console
	if len(c) > 8000 {
		c = "…" + c[len(c)-8000:]
	}
	return c
}

// consoleLog streams the console to the test log when SKIFF_TEST_LOG is
// set (a slow guest shows its progress).
func consoleLog(l *lineLogger) io.Writer {
	if os.Getenv("SKIFF_TEST_LOG") == "" {
		return nil
	}
	return l
}

type lineLogger struct {
	prefix string
	buf    []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(os.Stderr, "%s%s\n", l.prefix, strings.TrimRight(string(l.buf[:i]), "\r"))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}
