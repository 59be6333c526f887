package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestManyLayersOverlay(t *testing.T) {
	r := newTestRuntime(t)
	base := busyboxRootfs(t)
	// 60 layers with long names: too long for one page of mount options
	// as absolute paths.
	dir := filepath.Join(t.TempDir(), strings.Repeat("long-directory-name-", 4))
	layers := []string{}
	for i := range 60 {
		l := filepath.Join(dir, fmt.Sprintf("layer-%02d", i))
		os.MkdirAll(l, 0o755)
		os.WriteFile(filepath.Join(l, fmt.Sprintf("f%02d", i)), []byte("x"), 0o644)
		layers = append([]string{l}, layers...)
	}
	layers = append(layers, base)
	st, out := run(t, r, shSpec("layers", layers, "ls / | grep -c '^f'"))
	if st.ExitCode != 0 || out != "60\n" {
		t.Fatalf("%+v %q", st, out)
	}
}

// TestManyLayersThroughLinks mounts the deep stack the way kernels before
// 6.8 get it (no "lowerdir+": one page of options, the layers named by
// short links), which a newer host's kernel never takes on its own.
func TestManyLayersThroughLinks(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	dir := filepath.Join(base, strings.Repeat("long-directory-name-", 4))
	var layers []string
	for i := range 60 {
		l := filepath.Join(dir, fmt.Sprintf("layer-%02d", i))
		os.MkdirAll(l, 0o755)
		os.WriteFile(filepath.Join(l, "f"), []byte(fmt.Sprint(i)), 0o644)
		os.WriteFile(filepath.Join(l, fmt.Sprintf("f%02d", i)), []byte("x"), 0o644)
		layers = append([]string{l}, layers...)
	}
	opts, _ := overlayOptions(layers, "/u", "/w")
	if len(opts) < os.Getpagesize() {
		t.Fatalf("the stack's options fit in a page (%d bytes): the test proves nothing", len(opts))
	}
	upper, work, target := filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "rootfs")
	for _, d := range []string{upper, work, target} {
		os.Mkdir(d, 0o755)
	}
	wd, _ := os.Getwd()
	if err := mountOverlayLinked(layers, upper, work, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			t.Error(err)
		}
	})
	if now, _ := os.Getwd(); now != wd {
		t.Errorf("working directory left at %s", now)
	}
	ents, err := os.ReadDir(target)
	if err != nil {
		t.Fatal(err)
	}
	// 60 f<NN> files, and "f" from the top layer (the last created).
	if b, _ := os.ReadFile(filepath.Join(target, "f")); len(ents) != 61 || string(b) != "59" {
		t.Errorf("%d entries, top f = %q", len(ents), b)
	}
}
