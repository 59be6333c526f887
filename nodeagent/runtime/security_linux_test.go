package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// probeMount puts this test binary (static) into the container as /probe.
func probeMount(t *testing.T) Mount {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if raceEnabled {
		t.Skip("the probe runs the test binary inside busybox; -race makes it dynamically linked")
	}
	return Mount{Source: exe, Destination: "/probe", ReadOnly: true}
}

func TestEscapeAttemptsFail(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	probes := []string{"mount", "rawsocket", "reboot", "kexec", "sysrq", fmt.Sprintf("ptrace %d", os.Getpid()), "unshare"}
	var script strings.Builder
	for _, p := range probes {
		fmt.Fprintf(&script, "echo %s: $(/probe %s %s)\n", strings.Fields(p)[0], probeArg, p)
	}
	// Masked and read-only paths, read-only /sys.
	// (This kernel has no /proc/kcore or /proc/sysrq-trigger; the sysrq
	// probe then fails on the missing file, which is still a failure.)
	script.WriteString(`echo timer_list-size: $(wc -c < /proc/timer_list)
echo firmware: $(ls /sys/firmware | wc -l)
echo 1 > /proc/sys/kernel/panic_on_oops 2>/dev/null && echo procsys: ALLOWED || echo procsys: denied
touch /sys/escape 2>/dev/null && echo sys: ALLOWED || echo sys: denied
grep -E 'Cap(Eff|Inh|Bnd|Amb)' /proc/self/status
grep NoNewPrivs /proc/self/status
grep Seccomp: /proc/self/status
`)
	spec := shSpec("escape", []string{layer}, script.String())
	spec.Mounts = []Mount{probeMount(t)}
	spec.Security.CapDrop = []string{"NET_RAW"}
	st, out := run(t, r, spec)
	if st.ExitCode != 0 {
		t.Fatalf("%+v\n%s", st, out)
	}
	for _, p := range probes {
		name := strings.Fields(p)[0]
		if !strings.Contains(out, name+": denied") {
			t.Errorf("%s was not denied:\n%s", name, out)
		}
	}
	for _, want := range []string{"timer_list-size: 0", "firmware: 0", "procsys: denied", "sys: denied", "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Docker's set minus NET_RAW: 0xa80425fb &^ (1<<13).
	if !strings.Contains(out, "CapEff:\t00000000a80405fb") || !strings.Contains(out, "CapBnd:\t00000000a80405fb") ||
		!strings.Contains(out, "CapInh:\t0000000000000000") || !strings.Contains(out, "CapAmb:\t0000000000000000") {
		t.Errorf("unexpected capabilities:\n%s", out)
	}
}

func TestPrivilegedLiftsLockdown(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	spec := shSpec("priv", []string{layer}, "grep Seccomp: /proc/self/status; mount -t tmpfs tmpfs /tmp && echo mounted")
	spec.Security.Privileged = true
	st, out := run(t, r, spec)
	if st.ExitCode != 0 || !strings.Contains(out, "Seccomp:\t0") || !strings.Contains(out, "mounted") {
		t.Fatalf("%+v\n%s", st, out)
	}
}

func TestRunAsUserAndReadOnlyRoot(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	uid, gid := uint32(65534), uint32(65534)
	spec := shSpec("user", []string{layer}, "id -u; id -g; grep CapEff /proc/self/status; touch /x 2>/dev/null && echo rootfs: writable || echo rootfs: read-only")
	spec.Security = SecurityContext{RunAsUser: &uid, RunAsGroup: &gid, ReadOnlyRootFS: true}
	st, out := run(t, r, spec)
	if st.ExitCode != 0 {
		t.Fatalf("%+v\n%s", st, out)
	}
	for _, want := range []string{"65534\n65534\n", "CapEff:\t0000000000000000", "rootfs: read-only"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestOverlayDeleteLeavesLowerIntact(t *testing.T) {
	r := newTestRuntime(t)
	bottom := busyboxRootfs(t)
	// A top layer whose whiteout (char 0:0) hides a file of the bottom one.
	top := t.TempDir()
	os.MkdirAll(filepath.Join(top, "etc"), 0o755)
	os.WriteFile(filepath.Join(bottom, "etc", "hidden-by-top"), []byte("x"), 0o644)
	if err := unix.Mknod(filepath.Join(top, "etc", "hidden-by-top"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	spec := shSpec("overlay", []string{top, bottom}, `rm /etc/lower-file && test ! -e /etc/lower-file && echo deleted
test -e /etc/hidden-by-top && echo whiteout-broken || echo whiteout-works
echo new > /etc/upper-file`)
	if _, err := r.Create(bgCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	upper := filepath.Join(r.containerDir("overlay"), upperDir)
	if err := r.Start(bgCtx(t), "overlay"); err != nil {
		t.Fatal(err)
	}
	st, err := r.Wait(bgCtx(t), "overlay")
	if err != nil {
		t.Fatal(err)
	}
	out := logText(t, st.LogPath)
	if !strings.Contains(out, "deleted") || !strings.Contains(out, "whiteout-works") {
		t.Fatalf("%+v\n%s", st, out)
	}
	if _, err := os.Stat(filepath.Join(bottom, "etc", "lower-file")); err != nil {
		t.Errorf("lower layer changed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(bottom, "etc", "upper-file")); err == nil {
		t.Error("write went to the lower layer")
	}
	var sst unix.Stat_t
	if err := unix.Lstat(filepath.Join(upper, "etc", "lower-file"), &sst); err != nil || sst.Mode&unix.S_IFMT != unix.S_IFCHR {
		t.Errorf("no whiteout in the upper dir: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(upper, "etc", "upper-file")); string(b) != "new\n" {
		t.Errorf("upper-file = %q", b)
	}
}
