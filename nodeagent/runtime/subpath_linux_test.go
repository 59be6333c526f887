package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A container may replace its volume's subPath with a symlink (the
// CVE-2017-1002101 class). The next container mounting that subPath must
// be refused, never given what the link names.
func TestSubPathSymlinkPlantedByContainerIsRefused(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	victim := t.TempDir() // stands for the host's root
	os.WriteFile(filepath.Join(victim, "host-secret"), []byte("secret\n"), 0o600)
	for _, tc := range []struct{ id, plant, subPath string }{
		{"root", `rm -rf /vol/sub && ln -s / /vol/sub`, "sub"},
		{"host-dir", `rm -rf /vol/sub && ln -s ` + victim + ` /vol/sub`, "sub"},
		{"climbing", `rm -rf /vol/sub && ln -s ../../../../../../.. /vol/sub`, "sub"},
		{"middle", `rm -rf /vol/a && ln -s ` + victim + ` /vol/a`, "a/b"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			vol := t.TempDir()
			os.MkdirAll(filepath.Join(vol, tc.subPath), 0o755)
			id := tc.id
			planter := shSpec(id+"-planter", []string{layer}, tc.plant)
			planter.Mounts = []Mount{{Source: vol, Destination: "/vol"}}
			if st, out := run(t, r, planter); st.ExitCode != 0 {
				t.Fatalf("planting the link: %+v\n%s", st, out)
			}
			// The "restart": a new container mounting the subPath.
			victimSpec := shSpec(id+"-victim", []string{layer}, `ls -a /sub; cat /sub/host-secret`)
			victimSpec.Mounts = []Mount{{Source: vol, SubPath: tc.subPath, Destination: "/sub"}}
			_, err := r.Create(bgCtx(t), victimSpec)
			if err == nil {
				err = r.Start(bgCtx(t), victimSpec.ID)
			}
			if err == nil {
				st, werr := r.Wait(bgCtx(t), victimSpec.ID)
				t.Fatalf("container with a planted subPath link ran (%+v, %v):\n%s", st, werr, logText(t, st.LogPath))
			}
			if !strings.Contains(err.Error(), "subPath") {
				t.Errorf("error does not name the subPath: %v", err)
			}
		})
	}
}

func TestSubPathMountsWhatItNames(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	vol := t.TempDir()
	os.MkdirAll(filepath.Join(vol, "conf"), 0o755)
	os.WriteFile(filepath.Join(vol, "conf", "app.ini"), []byte("answer=42\n"), 0o644)
	// A symlink inside the volume that would stay inside it is refused
	// too, but symlinks below the mounted subPath are the workload's own.
	os.Symlink("app.ini", filepath.Join(vol, "conf", "alias"))
	spec := shSpec("subpaths", []string{layer}, `cat /etc/app.ini /conf/alias
echo made > /new/deep/out && echo new-ok
echo x > /ro/x 2>/dev/null && echo ro-BROKEN || echo ro-ok`)
	spec.Mounts = []Mount{
		{Source: vol, SubPath: "conf/app.ini", Destination: "/etc/app.ini", ReadOnly: true}, // a file
		{Source: vol, SubPath: "conf", Destination: "/conf"},
		{Source: vol, SubPath: "made/on/start", Destination: "/new/deep"}, // created
		{Source: vol, SubPath: "conf", Destination: "/ro", ReadOnly: true},
	}
	st, out := run(t, r, spec)
	if st.ExitCode != 0 {
		t.Fatalf("%+v\n%s", st, out)
	}
	for _, want := range []string{"answer=42\nanswer=42\n", "new-ok", "ro-ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(vol, "made", "on", "start", "out")); string(b) != "made\n" {
		t.Errorf("created subPath: %q", b)
	}
}

func TestSubPathMustStayBelowTheVolume(t *testing.T) {
	r := newTestRuntime(t)
	for _, sub := range []string{"../etc", "a/../../etc", "/etc"} {
		spec := shSpec("bad-subpath", []string{busyboxRootfs(t)}, "true")
		spec.Mounts = []Mount{{Source: t.TempDir(), SubPath: sub, Destination: "/x"}}
		_, err := r.Create(bgCtx(t), spec)
		if err == nil || !strings.Contains(err.Error(), "subPath") {
			t.Errorf("subPath %q: err = %v, want a refusal naming subPath", sub, err)
		}
	}
}

// A read-only volume stays read-only in the mounts below it: a remount
// with MS_RDONLY alone changed the top mount only.
func TestReadOnlyMountIsRecursive(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	vol := t.TempDir()
	inner := filepath.Join(vol, "inner")
	os.Mkdir(inner, 0o755)
	if err := unix.Mount("tmpfs", inner, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a tmpfs inside the volume: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(inner, unix.MNT_DETACH) })
	spec := shSpec("ro-recursive", []string{layer}, `echo x > /vol/top 2>/dev/null && echo top-BROKEN || echo top-ok
echo x > /vol/inner/x 2>/dev/null && echo inner-BROKEN || echo inner-ok`)
	spec.Mounts = []Mount{{Source: vol, Destination: "/vol", ReadOnly: true}}
	st, out := run(t, r, spec)
	if st.ExitCode != 0 {
		t.Fatalf("%+v\n%s", st, out)
	}
	for _, want := range []string{"top-ok", "inner-ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(inner, "x")); err == nil {
		t.Error("a container wrote below a read-only volume")
	}
}
