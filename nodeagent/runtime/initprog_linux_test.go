package runtime

import (
	"strings"
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
