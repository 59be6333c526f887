package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestDirListingFollowsChanges(t *testing.T) {
	dir := t.TempDir()
	d := &dirListing{path: dir}
	mkdir := func(name string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// age makes the directory look unchanged for an hour, so its listing
	// may be kept.
	age := func() {
		t.Helper()
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
	}
	want := func(names ...string) {
		t.Helper()
		got, err := d.read()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, names) {
			t.Fatalf("listing %v, want %v", got, names)
		}
	}

	want()
	mkdir("b")
	mkdir("a")
	want("a", "b") // fresh changes: read again
	age()
	want("a", "b")
	mkdir("c") // the mtime moves on: read again
	want("a", "b", "c")
	age()
	want("a", "b", "c")
	if err := os.Remove(filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	want("a", "c")

	// While the mtime stays the same the kept listing is served: here a
	// change hidden by putting the old mtime back.
	age()
	want("a", "c")
	st, _ := os.Stat(dir)
	mkdir("d")
	if err := os.Chtimes(dir, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	want("a", "c")

	// A listing read within listingMinAge of the last change is not kept:
	// another change in the same clock tick would leave the mtime as is.
	mkdir("e")
	want("a", "c", "d", "e")
	st, _ = os.Stat(dir)
	mkdir("f")
	if err := os.Chtimes(dir, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	want("a", "c", "d", "e", "f")
}
