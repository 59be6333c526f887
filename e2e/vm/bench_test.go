package vm

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/e2e/vm/guest"
	"github.com/skiff-sh/skiff/internal/qemu"
)

var benchCycles = flag.Int("vm-bench-cycles", 20, "BenchmarkRuntimeOnCgroupV2Guest: cycles per runtime")

// BenchmarkRuntimeOnCgroupV2Guest runs bench/runtime (skiff's runtime
// from its shim, alone and in a pod, against runc and crun) inside a pure
// cgroup v2 guest and logs its table: how skiff compares with crun where
// crun is at home. An emulated CPU slows every runtime; compare the
// ratios, not the times. Not part of `make test` (ten minutes on a busy
// 2-core host: past go test's default timeout, hence -timeout):
//
//	go test -run '^$' -bench RuntimeOnCgroupV2Guest -benchtime 1x -timeout 40m ./e2e/vm/
func BenchmarkRuntimeOnCgroupV2Guest(b *testing.B) {
	root, kernel, work, im := guestStart(b)
	for _, p := range []struct{ pkg, out string }{{"./bench/runtime", "runtime-bench"}, {"./cmd/skiff-shim", "skiff-shim"}} {
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(work, p.out), p.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", p.pkg, err, out)
		}
	}
	im.File("/pkg/runtime-bench", filepath.Join(work, "runtime-bench"), 0o755)
	// bench/runtime finds the shim beside -binary (/pkg/bin/skiff, which
	// need not exist).
	im.File("/pkg/bin/skiff-shim", filepath.Join(work, "skiff-shim"), 0o755)
	for _, tool := range []string{"runc", "crun", "conmon"} {
		path, err := exec.LookPath(tool)
		if err != nil {
			b.Skipf("needs %s (make deps)", tool)
		}
		// At the host's path: conmon looks for runc where it was built to.
		im.File(path, path, 0o755)
		addLibraries(b, im, path)
	}
	for b.Loop() {
		res, err := guest.Boot(context.Background(), guest.Config{
			Kernel: kernel, Image: im, MemoryMB: 1536, CPUs: 2, Timeout: 20 * time.Minute, WorkDir: work,
			Console: consoleLog(&lineLogger{prefix: "guest: "}),
			Steps: []guest.Step{{Name: "bench", Dir: "/pkg",
				Command: "./runtime-bench -binary /pkg/bin/skiff -only skiff,skiff-pod,runc,crun -n " + strconv.Itoa(*benchCycles)}},
		})
		if err != nil {
			b.Fatalf("%v\n%s", err, tail(res))
		}
		s := res.Steps[0]
		if s.Exit != 0 {
			b.Fatalf("bench/runtime in the guest: exit %d\n%s", s.Exit, s.Output)
		}
		b.Logf("bench/runtime on kernel %s (cgroup v2, %s):\n%s", kernel.Version, res.Accel, s.Output)
	}
}

// addLibraries adds the shared libraries `ldd` lists for a dynamically
// linked program, at the paths its loader looks for them.
func addLibraries(tb testing.TB, im *qemu.Initramfs, program string) {
	tb.Helper()
	out, err := exec.Command("ldd", program).Output()
	if err != nil {
		tb.Fatalf("ldd %s: %v", program, err)
	}
	for _, field := range strings.Fields(string(out)) {
		if strings.HasPrefix(field, "/") {
			im.File(field, field, 0o755)
		}
	}
}
