package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBindMountsAndEtcFiles(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	host := t.TempDir()
	rw, ro := filepath.Join(host, "rw"), filepath.Join(host, "ro")
	os.Mkdir(rw, 0o755)
	os.Mkdir(ro, 0o755)
	os.WriteFile(filepath.Join(ro, "seed"), []byte("seed\n"), 0o644)
	hosts := filepath.Join(host, "hosts")
	os.WriteFile(hosts, []byte("10.1.2.3 web-1\n"), 0o644)
	resolv := filepath.Join(host, "resolv.conf")
	os.WriteFile(resolv, []byte("nameserver 10.96.0.10\nsearch default.svc.cluster.local\n"), 0o644)
	// Image symlinks resolve inside the rootfs: /evil → /etc.
	os.Symlink("/../../etc", filepath.Join(layer, "evil"))

	spec := shSpec("mounts", []string{layer}, `echo hi > /vol/rw/out && echo rw-ok
echo x > /vol/ro/out 2>/dev/null && echo ro-BROKEN || echo ro-ok
cat /vol/ro/seed /etc/hosts /etc/resolv.conf
ls /etc/inside/seed >/dev/null && echo evil-inside`)
	spec.Mounts = []Mount{
		{Source: rw, Destination: "/vol/rw"},
		{Source: ro, Destination: "/vol/ro", ReadOnly: true},
		{Source: ro, Destination: "/evil/inside", ReadOnly: true},
	}
	spec.HostsFile, spec.ResolvConfFile = hosts, resolv
	st, out := run(t, r, spec)
	if st.ExitCode != 0 {
		t.Fatalf("%+v\n%s", st, out)
	}
	for _, want := range []string{"rw-ok", "ro-ok", "seed\n", "10.1.2.3 web-1", "nameserver 10.96.0.10", "evil-inside"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(rw, "out")); string(b) != "hi\n" {
		t.Errorf("rw volume: %q", b)
	}
}

func TestMountThroughEscapingSymlinkRefused(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	// An image symlink naming a host directory must not lead a mount there.
	victim := t.TempDir()
	os.Symlink(victim, filepath.Join(layer, "evil"))
	spec := shSpec("evil", []string{layer}, "true")
	spec.Mounts = []Mount{{Source: t.TempDir(), Destination: "/evil/inside"}}
	// Refused (the link dangles inside the rootfs) or kept inside: either
	// way the host directory stays empty.
	if _, err := r.Create(bgCtx(t), spec); err != nil {
		t.Logf("refused: %v", err)
	}
	if ents, _ := os.ReadDir(victim); len(ents) != 0 {
		t.Errorf("mount escaped through a symlink into %s: %v", victim, ents)
	}
}
