package qemu

import (
	"debug/elf"
	"strings"
	"testing"
)

// A dynamically linked program brings its loader and C library into the
// image; a static one comes alone.
func TestProgramBringsItsLibraries(t *testing.T) {
	const dynamic = "/bin/sh" // dash: linked against libc
	f, err := elf.Open(dynamic)
	if err != nil {
		t.Fatal(err)
	}
	libs, _ := f.ImportedLibraries()
	f.Close()
	if len(libs) == 0 {
		t.Fatalf("%s is static here; the test needs a dynamic program", dynamic)
	}
	im := NewInitramfs()
	if err := im.Program("/bin/prog", dynamic); err != nil {
		t.Fatal(err)
	}
	var loader, libc bool
	for p, e := range im.files {
		loader = loader || strings.Contains(p, "ld-linux") && e.mode&sIFREG != 0
		libc = libc || strings.HasSuffix(p, "/libc.so.6")
	}
	if !ok(im, "/bin/prog") || !loader || !libc {
		t.Errorf("image of %s: program %v, loader %v, libc %v", dynamic, ok(im, "/bin/prog"), loader, libc)
	}
	static := NewInitramfs()
	if err := static.Program("/bin/busybox", "/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	for p := range static.files {
		if strings.Contains(p, ".so") {
			t.Errorf("a static program brought %s", p)
		}
	}
}

func ok(im *Initramfs, p string) bool { _, found := im.files[p]; return found }
