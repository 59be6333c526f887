package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
)

// probeArg runs the test binary as a probe inside a container (see
// probe_linux_test.go).
const probeArg = "__skiff-test-probe"

func TestMain(m *testing.M) {
	// The runtime re-executes this test binary as supervisor and init.
	if RunReexecEntry() {
		return
	}
	if len(os.Args) > 2 && os.Args[1] == probeArg {
		os.Exit(runProbe(os.Args[2:]))
	}
	if len(os.Args) > 2 && os.Args[1] == starterArg {
		os.Exit(runStarter(os.Args[2:]))
	}
	code := m.Run()
	if shimPath != "" {
		os.RemoveAll(filepath.Dir(shimPath))
	}
	os.Exit(code)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: namespaces, mounts and cgroups")
	}
	if cgroups.Detect("") != cgroups.ModeV1 {
		// The real-kernel tests here expect v1 controllers (this host's
		// layout); v2 is covered by the fake-tree tests in cgroups.
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
			t.Skip("no usable cgroup hierarchy")
		}
	}
}

// busyboxRootfs builds a minimal image layer from Debian's busybox-static.
func busyboxRootfs(t testing.TB) string {
	t.Helper()
	bb := "/bin/busybox"
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Skip("needs busybox-static at /bin/busybox (apt-get install busybox-static)")
	}
	if b, _ := exec.Command("file", "-L", bb).Output(); strings.Contains(string(b), "dynamically") {
		t.Skip("/bin/busybox is dynamically linked; needs busybox-static")
	}
	root := filepath.Join(t.TempDir(), "busybox")
	for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev", "root", "data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Fields(string(out)) {
		if name == "busybox" {
			continue
		}
		os.Symlink("busybox", filepath.Join(root, "bin", name))
	}
	os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc", "group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc", "lower-file"), []byte("from the lower layer\n"), 0o644)
	return root
}

// newTestRuntime gives each test its own state, run dir and cgroup parent,
// and removes every container, sandbox and cgroup it made at the end.
func newTestRuntime(t *testing.T) *Runtime {
	t.Helper()
	// SKIFF_TEST_GO_INIT=1 runs the suite with the Go init.
	return newTestRuntimeInit(t, os.Getenv("SKIFF_TEST_GO_INIT") != "")
}

// newTestRuntimeInit is newTestRuntime with the Go init or the init program.
func newTestRuntimeInit(t *testing.T, goInit bool) *Runtime {
	t.Helper()
	requireRoot(t)
	base, err := os.MkdirTemp("", "skiff-rt-")
	if err != nil {
		t.Fatal(err)
	}
	parent := fmt.Sprintf("skiff-test-%d-%s", os.Getpid(), filepath.Base(base))
	// SKIFF_TEST_WARM=N runs the suite with N warm supervisors.
	warm, _ := strconv.Atoi(os.Getenv("SKIFF_TEST_WARM"))
	r, err := New(Config{
		StateDir:        filepath.Join(base, "state"),
		RunDir:          filepath.Join(base, "run"),
		Cgroups:         cgroups.Config{Parent: parent},
		WarmSupervisors: warm,
		GoInit:          goInit,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupRuntime(t, r, base) })
	return r
}

func cleanupRuntime(t *testing.T, r *Runtime, base string) {
	ctx, cancel := context.WithTimeout(context.Background(), scaled(30*time.Second))
	defer cancel()
	r.Close()
	if sts, err := r.List(); err == nil {
		for _, st := range sts {
			if err := r.Remove(ctx, st.ID); err != nil {
				t.Errorf("cleanup: remove %s: %v", st.ID, err)
			}
		}
	}
	if ids, err := r.ListSandboxes(); err == nil {
		for _, id := range ids {
			if err := r.RemoveSandbox(id); err != nil {
				t.Errorf("cleanup: remove sandbox %s: %v", id, err)
			}
		}
	}
	// The parent cgroup itself, in every hierarchy.
	if cg, err := cgroups.New(cgroups.Config{Parent: r.cfg.Cgroups.Parent}, r.cfg.CgroupMode, "."); err == nil {
		if err := cg.Destroy(); err != nil {
			t.Errorf("cleanup: cgroups: %v", err)
		}
	}
	os.RemoveAll(base)
}

// run creates, starts and waits for a container; it returns the final
// state and the log's text.
func run(t *testing.T, r *Runtime, spec ContainerSpec) (State, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scaled(60*time.Second))
	defer cancel()
	if _, err := r.Create(ctx, spec); err != nil {
		t.Fatalf("create %s: %v", spec.ID, err)
	}
	if err := r.Start(ctx, spec.ID); err != nil {
		t.Fatalf("start %s: %v", spec.ID, err)
	}
	st, err := r.Wait(ctx, spec.ID)
	if err != nil {
		t.Fatalf("wait %s: %v", spec.ID, err)
	}
	return st, logText(t, st.LogPath)
}

// logText returns the text of a log's records, one line each.
func logText(t *testing.T, path string) string {
	t.Helper()
	var b strings.Builder
	err := ReadLogs(context.Background(), path, LogOptions{Tail: -1}, func(r LogRecord) error {
		b.Write(r.Text)
		if !r.Partial {
			b.WriteByte('\n')
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	return b.String()
}

func shSpec(id string, layers []string, script string) ContainerSpec {
	return ContainerSpec{ID: id, Layers: layers, Command: []string{"/bin/sh", "-c", script}}
}

// bgCtx is a context that ends with the test (or after a minute).
func bgCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), scaled(time.Minute))
	t.Cleanup(cancel)
	return ctx
}

// scaled stretches a test's deadline by SKIFF_TEST_TIMEOUT_SCALE (as Go's
// own GO_TEST_TIMEOUT_SCALE does on slow builders): the VM tier runs these
// tests in an emulated guest, many times slower than the host, and slower
// still when the host is busy.
func scaled(d time.Duration) time.Duration {
	if k, err := strconv.Atoi(os.Getenv("SKIFF_TEST_TIMEOUT_SCALE")); err == nil && k > 1 {
		return d * time.Duration(k)
	}
	return d
}
