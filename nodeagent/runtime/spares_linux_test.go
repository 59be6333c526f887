package runtime

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// tree lists the paths under dir, relative, sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// usedStateDir makes a state directory as a container leaves it.
func usedStateDir(t *testing.T, dir string) {
	t.Helper()
	for _, p := range []string{"upper/etc", "work/work", "rootfs"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"config.json", "state.json", "container.log", "upper/etc/secret", "work/work/#1"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// testSpares gives spares under a directory of the test's own, which it
// returns.
func testSpares(t *testing.T) (*spares, string) {
	t.Helper()
	base := t.TempDir()
	s, err := newSpares(filepath.Join(base, "spare"))
	if err != nil {
		t.Fatal(err)
	}
	return s, base
}

// keepUsed makes a used state directory named name and keeps it.
func keepUsed(t *testing.T, s *spares, base, name string) {
	t.Helper()
	dir := filepath.Join(base, name)
	usedStateDir(t, dir)
	if !s.keep(dir) {
		t.Fatalf("keep refused %s", dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the kept directory is still at its old path: %v", err)
	}
}

// A removed container's state directory comes back to the next Create
// holding the empty work directory and mount point, and nothing else.
func TestSparesKeepOnlyTheEmptyDirectories(t *testing.T) {
	s, base := testSpares(t)
	keepUsed(t, s, base, "a")
	next := filepath.Join(base, "b")
	if !s.take(next) {
		t.Fatal("take found no spare")
	}
	if got := strings.Join(tree(t, next), " "); got != "rootfs work" {
		t.Fatalf("a spare holds %q, want %q", got, "rootfs work")
	}
	if s.take(filepath.Join(base, "c")) {
		t.Fatal("take gave the same spare twice")
	}
}

// A spare never replaces an existing directory: Create must still find
// that the container exists.
func TestSparesTakeDoesNotReplace(t *testing.T) {
	s, base := testSpares(t)
	keepUsed(t, s, base, "a")
	taken := filepath.Join(base, "taken")
	if err := os.Mkdir(taken, 0o700); err != nil {
		t.Fatal(err)
	}
	if s.take(taken) {
		t.Fatal("take replaced an existing (empty) directory")
	}
	if got := tree(t, taken); len(got) != 0 {
		t.Fatalf("the existing directory changed: %q", got)
	}
	if !s.take(filepath.Join(base, "b")) {
		t.Fatal("the spare was lost when take refused")
	}
}

// What Create did not finish making is removed as before, not kept; so is
// what comes beyond the bound.
func TestSparesRefuseHalfMadeAndExcess(t *testing.T) {
	s, base := testSpares(t)
	half := filepath.Join(base, "half")
	if err := os.MkdirAll(filepath.Join(half, "upper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if s.keep(half) {
		t.Fatal("kept a directory without work and rootfs")
	}
	for i := range maxSpares + 1 {
		d := filepath.Join(base, "c", strings.Repeat("x", i+1))
		usedStateDir(t, d)
		if got, want := s.keep(d), i < maxSpares; got != want {
			t.Fatalf("keep number %d: %v, want %v", i+1, got, want)
		}
	}
}

// Spares do not outlive their Runtime: New drops what a process that has
// ended left (it may have stopped half way), but not what a running one
// keeps; Close removes its own.
func TestSparesDroppedByNewAndClose(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "spare")
	dead := filepath.Join(root, "4194305-a") // above any pid_max: no such process
	live := filepath.Join(root, strconv.Itoa(os.Getppid())+"-b")
	usedStateDir(t, filepath.Join(dead, "0"))
	usedStateDir(t, filepath.Join(live, "0"))
	s, err := newSpares(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatalf("an ended process's spares survived: %v", err)
	}
	if _, err := os.Stat(filepath.Join(live, "0", "work")); err != nil {
		t.Fatalf("a running process's spares were removed: %v", err)
	}
	if s.take(filepath.Join(base, "a")) {
		t.Fatal("a new Runtime took another's spare")
	}
	keepUsed(t, s, base, "b")
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Fatalf("close left %s: %v", s.dir, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("close removed another Runtime's spares: %v", err)
	}
}

// A container made in a spare sees nothing of the one before: not its
// files, not its changes to the image's.
func TestSpareStateDirectoryStartsClean(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	st, out := run(t, r, shSpec("first", []string{layer}, "echo secret > /data/secret && echo changed > /etc/lower-file && touch /new && echo done"))
	if st.ExitCode != 0 || out != "done\n" {
		t.Fatalf("first container: %+v, log %q", st, out)
	}
	if err := r.Remove(bgCtx(t), "first"); err != nil {
		t.Fatal(err)
	}
	if n := len(tree(t, r.spares.dir)); n == 0 {
		t.Fatal("Remove kept no spare")
	}
	st, out = run(t, r, shSpec("second", []string{layer}, "ls /data; cat /etc/lower-file; ls /new 2>&1; true"))
	if st.ExitCode != 0 || out != "from the lower layer\nls: /new: No such file or directory\n" {
		t.Fatalf("second container: %+v, log %q", st, out)
	}
	if got := tree(t, r.spares.dir); len(got) != 0 {
		t.Fatalf("the spare was not used: %q", got)
	}
}
