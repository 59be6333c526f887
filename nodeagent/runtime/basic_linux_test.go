package runtime

import (
	"strings"
	"testing"
)

func TestPID1HostnameAndRootfs(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	spec := shSpec("pid1", []string{layer}, "echo pid=$$; hostname; ls /; cat /etc/lower-file; ps -o pid,comm")
	spec.Hostname = "pid1-host"
	st, out := run(t, r, spec)
	if st.Status != StatusExited || st.ExitCode != 0 {
		t.Fatalf("state %+v, log:\n%s", st, out)
	}
	for _, want := range []string{"pid=1\n", "pid1-host\n", "from the lower layer"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "home") || strings.Contains(out, "usr") {
		t.Errorf("container sees the host's root:\n%s", out)
	}
}
