package runtime

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBothInitsGiveTheSameContainer runs one probe under the init program
// and under the Go init (kept for other architectures and GoInit): the
// container each gives must look the same from inside, down to its
// capabilities, masks, mounts and signal dispositions.
func TestBothInitsGiveTheSameContainer(t *testing.T) {
	layer := busyboxRootfs(t)
	probe := `echo pid=$$; hostname; id; pwd
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|SigBlk|SigIgn):' /proc/self/status
for p in /proc/kcore /proc/acpi /proc/keys /sys/firmware; do stat -c '%n %F' $p 2>&1; done
echo x 2>&1 >/proc/sysrq-trigger | sed 's/.*: //'
touch /made-here 2>&1 | sed 's/.*: //'
awk '{print $5, $6}' /proc/self/mountinfo | grep -E '^/(proc|sys|dev)?( |/)' | sort
cat /proc/self/cgroup | sed 's/^[0-9]*://'`
	outputs := map[bool]string{}
	for _, goInit := range []bool{false, true} {
		r := newTestRuntimeInit(t, goInit)
		spec := shSpec("probe", []string{layer}, probe)
		spec.Hostname = "probe-host"
		spec.WorkingDir = "/tmp"
		uid, gid := uint32(1000), uint32(1000)
		spec.Security.RunAsUser, spec.Security.RunAsGroup = &uid, &gid
		spec.Security.ReadOnlyRootFS = true
		st, out := run(t, r, spec)
		if st.Status != StatusExited || st.ExitCode != 0 {
			t.Fatalf("goInit=%v: state %+v, log:\n%s", goInit, st, out)
		}
		outputs[goInit] = out
	}
	script, goInit := outputs[false], outputs[true]
	if script != goInit {
		t.Fatalf("the containers differ\ninit program:\n%s\nGo init:\n%s", script, goInit)
	}
	for _, want := range []string{"pid=1\n", "probe-host\n", "uid=1000", "/tmp\n", "NoNewPrivs:\t1", "Seccomp:\t2",
		"SigIgn:\t0000000000000000", "/proc/keys character special file", "/proc/acpi directory", "Read-only file system"} {
		if !strings.Contains(script, want) {
			t.Errorf("output lacks %q:\n%s", want, script)
		}
	}
	t.Logf("both inits:\n%s", script)
}

// TestBothInitsExecTheSameProcess does the same for Exec: the process it
// starts in a running container has the same view under either init.
func TestBothInitsExecTheSameProcess(t *testing.T) {
	layer := busyboxRootfs(t)
	probe := `id; pwd; echo $FROM_SPEC
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|SigBlk|SigIgn):' /proc/self/status
tr '\0' ' ' </proc/1/cmdline; echo
awk '{print $5, $6}' /proc/self/mountinfo | grep -E '^/(proc|sys)?( |/)' | sort
cat /proc/self/cgroup | sed 's/^[0-9]*://'`
	outputs := map[bool]string{}
	for _, goInit := range []bool{false, true} {
		r := newTestRuntimeInit(t, goInit)
		startSleeper(t, r, "sleeper", []string{layer})
		uid := uint32(33)
		var out strings.Builder
		code, err := r.Exec(bgCtx(t), "sleeper", ExecSpec{Command: []string{"sh", "-c", probe}, RunAsUser: &uid, Stdout: &out, Stderr: &out})
		if err != nil || code != 0 {
			t.Fatalf("goInit=%v: exec: %d, %v\n%s", goInit, code, err, out.String())
		}
		if _, err := r.Exec(bgCtx(t), "sleeper", ExecSpec{Command: []string{"no-such-command"}}); err == nil ||
			!strings.Contains(err.Error(), `"no-such-command" not found`) {
			t.Errorf("goInit=%v: exec of a missing command: %v", goInit, err)
		}
		outputs[goInit] = out.String()
	}
	if outputs[false] != outputs[true] {
		t.Fatalf("the processes differ\ninit program:\n%s\nGo init:\n%s", outputs[false], outputs[true])
	}
	for _, want := range []string{"uid=33", "/etc\nyes\n", "sleep 1000", "Seccomp:\t2", "SigIgn:\t0000000000000000", "/proc/sys ro,"} {
		if !strings.Contains(outputs[false], want) {
			t.Errorf("output lacks %q:\n%s", want, outputs[false])
		}
	}
}

// TestNoExecMemfdFallsBackToGoInit: a kernel that refuses to run
// anonymous files (vm.memfd_noexec=2, set here in a PID namespace of the
// test's own) gets its containers and execs from the Go init.
func TestNoExecMemfdFallsBackToGoInit(t *testing.T) {
	if os.Getenv("SKIFF_TEST_MEMFD_NOEXEC") == "" {
		requireRoot(t)
		cmd := exec.Command("/proc/self/exe", "-test.run=^TestNoExecMemfdFallsBackToGoInit$", "-test.v")
		cmd.Env = append(os.Environ(), "SKIFF_TEST_MEMFD_NOEXEC=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("in a PID namespace with vm.memfd_noexec=2: %v\n%s", err, out)
		}
		return
	}
	// A /proc of this PID namespace, in a mount namespace of our own.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("/proc/sys/vm/memfd_noexec", []byte("2"), 0); err != nil {
		t.Fatalf("set vm.memfd_noexec in this PID namespace: %v", err)
	}
	if _, err := initProgram(false); err == nil {
		t.Fatal("the init program ran from a memfd with vm.memfd_noexec=2")
	}
	r := newTestRuntimeInit(t, false)
	layer := busyboxRootfs(t)
	st, out := run(t, r, shSpec("fallback", []string{layer}, "echo pid=$$"))
	if st.Status != StatusExited || st.ExitCode != 0 || out != "pid=1\n" {
		t.Fatalf("state %+v, log %q", st, out)
	}
	log, _ := os.ReadFile(filepath.Join(r.liveDir("fallback"), supervisorLog))
	if !strings.Contains(string(log), "the Go init sets the container up") {
		t.Errorf("supervisor log %q does not say it fell back", log)
	}
	startSleeper(t, r, "sleeper", []string{layer})
	var execOut strings.Builder
	if code, err := r.Exec(bgCtx(t), "sleeper", ExecSpec{Command: []string{"echo", "exec'd"}, Stdout: &execOut}); err != nil || code != 0 || execOut.String() != "exec'd\n" {
		t.Fatalf("exec: %d, %v, %q", code, err, execOut.String())
	}
}
