package teardown

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/a/b`:           "/a/b",
		`/with\040space`: "/with space",
		`/tab\011x`:      "/tab\tx",
		`/trailing\04`:   `/trailing\04`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// UnmountUnder detaches the mounts under the given directories, nested
// ones first, names with spaces included, and no others.
func TestUnmountUnder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts")
	}
	root := t.TempDir()
	other := t.TempDir()
	outer := filepath.Join(root, "a dir")
	inner := filepath.Join(outer, "inner")
	for _, p := range []string{outer, other} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", p, "tmpfs", 0, "size=64k"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { unix.Unmount(other, unix.MNT_DETACH); unix.Unmount(outer, unix.MNT_DETACH) })
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", inner, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}

	done, err := UnmountUnder(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(done, []string{inner, outer}) {
		t.Errorf("unmounted %q, want %q then %q", done, inner, outer)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), strings.ReplaceAll(outer, " ", `\040`)) {
		t.Errorf("a mount under %s is left", root)
	}
	if !strings.Contains(string(mi), other) {
		t.Errorf("the mount at %s, not under %s, was detached", other, root)
	}
}
