package runtime

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime/cgroups"
	"golang.org/x/sys/unix"
)

// probeMount puts this test binary into the container as /probe. Built
// with -race it is dynamically linked: its loader and libraries are then
// copied into the layer, at the paths it looks for them.
func probeMount(t *testing.T, layer string) Mount {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	f.Close()
	if dynamic {
		copyLibraries(t, exe, layer)
	}
	return Mount{Source: exe, Destination: "/probe", ReadOnly: true}
}

// copyLibraries copies what `ldd exe` lists into layer.
func copyLibraries(t *testing.T, exe, layer string) {
	t.Helper()
	out, err := exec.Command("ldd", exe).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", exe, err)
	}
	for _, field := range strings.Fields(string(out)) {
		if !strings.HasPrefix(field, "/") {
			continue
		}
		data, err := os.ReadFile(field)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(layer, field)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// escapeProbe is one escape attempt from inside a container and the one
// answer the kernel must give it.
type escapeProbe struct {
	name string
	cmd  string // shell that prints the answer (see runProbe)
	want string // an errno name, or "allowed"
	why  string
	skip string // set when this host cannot run the probe, with why
}

// escapeProbes are run in one container as root with the default
// capabilities minus NET_RAW; $target is the PID of another root process
// in it. blockDev is "MAJOR MINOR" of a disk of the host.
func escapeProbes(t *testing.T, r *Runtime, blockDev string) []escapeProbe {
	cg, err := r.cgroup(".")
	if err != nil {
		t.Fatal(err)
	}
	// With a device allow-list (v1's devices controller, v2's eBPF
	// program) the container keeps CAP_MKNOD, as in Docker, and the
	// cgroup refuses to open the node; without one (a kernel that loads
	// no cgroup device program) CAP_MKNOD is dropped.
	mknod, open := "allowed", "EPERM"
	mknodWhy, openWhy := "mknod is allowed with a device cgroup", "the device cgroup refuses block devices"
	if !cg.RestrictsDevices() {
		mknod, open = "EPERM", "ENOENT"
		mknodWhy, openWhy = "CAP_MKNOD is dropped without a device cgroup", "mknod was refused: there is no node"
	}
	var sysrqSkip string
	if _, err := os.Stat("/proc/sysrq-trigger"); err != nil {
		sysrqSkip = "this kernel has no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ off)"
	}
	// Under Yama's ptrace_scope >= 1 only descendants may be traced.
	var yamaSkip string
	if b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil && strings.TrimSpace(string(b)) != "0" {
		yamaSkip = "Yama ptrace_scope " + strings.TrimSpace(string(b)) + " refuses tracing a sibling at all"
	}
	return []escapeProbe{
		{name: "mount", cmd: "/probe " + probeArg + " mount", want: "EPERM", why: "no CAP_SYS_ADMIN, and seccomp refuses mount(2)"},
		{name: "rawsocket", cmd: "/probe " + probeArg + " rawsocket", want: "EPERM", why: "NET_RAW is dropped: the kernel refuses SOCK_RAW"},
		{name: "reboot", cmd: "/probe " + probeArg + " reboot", want: "EPERM", why: "no CAP_SYS_BOOT, and seccomp refuses reboot(2)"},
		{name: "kexec", cmd: "/probe " + probeArg + " kexec", want: "EPERM", why: "seccomp refuses kexec_load always"},
		{name: "sysrq", cmd: "/probe " + probeArg + " sysrq", want: "EROFS", why: "/proc/sysrq-trigger is bind-mounted read-only", skip: sysrqSkip},
		// The control: tracing a process of the same user and capabilities
		// works (as in Docker), so the refusal below is the kernel's
		// permission check, not seccomp or a wrong PID.
		{name: "ptrace-same-user", cmd: "/probe " + probeArg + " ptrace $target", want: "allowed", why: "same user, same capabilities", skip: yamaSkip},
		{name: "ptrace-as-nobody", cmd: "/probe " + probeArg + " ptrace-as 65534 $target", want: "EPERM", why: "another user without CAP_SYS_PTRACE may not trace root's process"},
		// From busybox, not Go: unshare(CLONE_NEWUSER) from a process with
		// threads (any Go program) fails EINVAL whatever the policy.
		{name: "unshare-user", cmd: "unshare -U true 2>&1 && echo allowed", want: "EPERM", why: "no CAP_SYS_ADMIN: seccomp refuses unshare(2)"},
		{name: "mknod-block", cmd: "/probe " + probeArg + " mknod-block /tmp/disk " + blockDev, want: mknod, why: mknodWhy},
		{name: "open-block", cmd: "/probe " + probeArg + " open /tmp/disk", want: open, why: openWhy},
	}
}

// hostBlockDevice is "MAJOR MINOR" of the first disk in /proc/partitions
// (a loop device's numbers if there is none): a node the container could
// read the host's disk through, were it not refused.
func hostBlockDevice(t *testing.T) string {
	data, err := os.ReadFile("/proc/partitions")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] != "major" {
			return f[0] + " " + f[1]
		}
	}
	return "7 0"
}

// errnoOf turns a probe's answer into an errno name: runProbe prints the
// name itself; busybox prints "applet: call: strerror text".
func errnoOf(answer string) string {
	answer = strings.TrimSpace(answer)
	i := strings.LastIndex(answer, ": ")
	if i < 0 {
		return answer // "allowed", or already a name
	}
	for e := unix.Errno(1); e < 256; e++ {
		if name := unix.ErrnoName(e); name != "" && strings.EqualFold(answer[i+2:], e.Error()) {
			return name
		}
	}
	return answer
}

func TestEscapeAttemptsFail(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	probes := escapeProbes(t, r, hostBlockDevice(t))
	// Every cgroup v2 kernel a distribution ships loads device programs
	// (CONFIG_CGROUP_BPF): there the container keeps MKNOD and the
	// program refuses the open, as with v1 (the VM tier runs this).
	if cg, err := r.cgroup("."); err != nil || r.cfg.CgroupMode == cgroups.ModeV2 && !cg.RestrictsDevices() {
		t.Errorf("cgroup v2 without its device program (%v): containers run with MKNOD dropped instead", err)
	}
	var script strings.Builder
	script.WriteString("sleep 1000 & target=$!\n")
	for _, p := range probes {
		fmt.Fprintf(&script, "echo \"probe %s: $(%s)\"\n", p.name, p.cmd)
	}
	script.WriteString("kill -9 $target\n")
	// Masked and read-only paths, read-only /sys.
	script.WriteString(`echo timer_list-size: $(wc -c < /proc/timer_list)
echo firmware: $(ls /sys/firmware | wc -l)
echo 1 > /proc/sys/kernel/panic_on_oops 2>/dev/null && echo procsys: ALLOWED || echo procsys: denied
touch /sys/escape 2>/dev/null && echo sys: ALLOWED || echo sys: denied
grep -E 'Cap(Eff|Inh|Bnd|Amb)' /proc/self/status
grep NoNewPrivs /proc/self/status
grep Seccomp: /proc/self/status
`)
	spec := shSpec("escape", []string{layer}, script.String())
	spec.Mounts = []Mount{probeMount(t, layer)}
	spec.Security.CapDrop = []string{"NET_RAW"}
	st, out := run(t, r, spec)
	if st.ExitCode != 0 {
		t.Fatalf("%+v\n%s", st, out)
	}
	answers := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "probe "); ok {
			if name, answer, ok := strings.Cut(rest, ": "); ok {
				answers[name] = answer
			}
		}
	}
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			if p.skip != "" {
				t.Skip(p.skip)
			}
			answer, ok := answers[p.name]
			if !ok {
				t.Fatalf("no answer in the output:\n%s", out)
			}
			if got := errnoOf(answer); got != p.want {
				t.Errorf("%s: got %q, want %s (%s)", p.cmd, answer, p.want, p.why)
			}
		})
	}
	for _, want := range []string{"timer_list-size: 0", "firmware: 0", "procsys: denied", "sys: denied", "NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Docker's set minus NET_RAW: 0xa80425fb &^ (1<<13); without a device
	// allow-list MKNOD (1<<27) goes too.
	caps := "00000000a80405fb"
	if cg, err := r.cgroup("."); err == nil && !cg.RestrictsDevices() {
		caps = "00000000a00405fb"
	}
	if !strings.Contains(out, "CapEff:\t"+caps) || !strings.Contains(out, "CapBnd:\t"+caps) ||
		!strings.Contains(out, "CapInh:\t0000000000000000") || !strings.Contains(out, "CapAmb:\t0000000000000000") {
		t.Errorf("unexpected capabilities (want %s):\n%s", caps, out)
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

// TestDevicesOutsideTheAllowListDoNotOpen: a container keeps CAP_MKNOD
// (Docker's default set) and makes nodes of any device, but only those of
// the allow-list open — the v1 devices controller or v2's eBPF program
// refuses the others with EPERM, for an exec'd process too. Dropping
// MKNOD refuses the mknod itself.
func TestDevicesOutsideTheAllowListDoNotOpen(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	if cg, err := r.cgroup("."); err != nil || !cg.RestrictsDevices() {
		t.Fatalf("no device allow-list on this kernel (%v)", err)
	}
	script := `mknod /tmp/mem c 1 1 && mknod /tmp/loop b 7 0 && mknod /tmp/null c 1 3 && echo "mknod: made"
for n in null mem loop; do { true <"/tmp/$n"; } 2>/dev/null && echo "$n: opened" || echo "$n: $({ true <"/tmp/$n"; } 2>&1)"; done
echo ready; sleep 1000`
	answers := func(out string) map[string]string {
		m := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok {
				m[k] = v
			}
		}
		return m
	}
	ctx := bgCtx(t)
	if _, err := r.Create(ctx, shSpec("devices", []string{layer}, script)); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "devices"); err != nil {
		t.Fatal(err)
	}
	waitLog(t, r, "devices", "ready")
	st, _ := r.State("devices")
	out := logText(t, st.LogPath)
	got := answers(out)
	if got["mknod"] != "made" || got["null"] != "opened" {
		t.Errorf("mknod and /dev/null's number should work:\n%s", out)
	}
	for _, n := range []string{"mem", "loop"} {
		if !strings.Contains(got[n], "Operation not permitted") {
			t.Errorf("%s opened or failed otherwise than EPERM:\n%s", n, out)
		}
	}
	// An exec joins the container's cgroup, and its program.
	var stdout strings.Builder
	code, err := r.Exec(ctx, "devices", ExecSpec{Command: []string{"/bin/sh", "-c", `{ true </tmp/mem; } 2>&1 || echo "exit $?"`}, Stdout: &stdout, Stderr: &stdout})
	if err != nil || !strings.Contains(stdout.String(), "Operation not permitted") {
		t.Errorf("exec opening /tmp/mem: code %d, %v: %q", code, err, stdout.String())
	}
	if err := r.Stop(ctx, "devices", 0, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}

	spec := shSpec("nomknod", []string{layer}, `mknod /tmp/mem c 1 1 2>&1 || echo "mknod: refused"`)
	spec.Security.CapDrop = []string{"MKNOD"}
	if _, out := run(t, r, spec); !strings.Contains(out, "Operation not permitted") || !strings.Contains(out, "mknod: refused") {
		t.Errorf("mknod without CAP_MKNOD:\n%s", out)
	}
}
