package cptar

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o640); err != nil {
		t.Fatal(err)
	}
}

// A directory packed under a new name unpacks under dest with its files,
// modes and inside links; a link pointing out is skipped with a warning.
func TestPackUnpackRoundTrip(t *testing.T) {
	src := filepath.Join(t.TempDir(), "site")
	write(t, filepath.Join(src, "index.html"), "hello")
	write(t, filepath.Join(src, "css", "a.css"), "body{}")
	if err := os.Symlink("index.html", filepath.Join(src, "home.html")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "passwd")); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Pack(&b, src, "html"); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "copy")
	var warnings []string
	if err := Unpack(&b, "html", dest, func(w string) { warnings = append(warnings, w) }); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"index.html": "hello", "css/a.css": "body{}", "home.html": "hello"} {
		got, err := os.ReadFile(filepath.Join(dest, p))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q %v", p, got, err)
		}
	}
	if st, err := os.Stat(filepath.Join(dest, "index.html")); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("mode kept: %v %v", st.Mode(), err)
	}
	if _, err := os.Lstat(filepath.Join(dest, "passwd")); !os.IsNotExist(err) || len(warnings) != 1 || !strings.Contains(warnings[0], "points outside") {
		t.Errorf("a link out: %v, warnings %q", err, warnings)
	}

	// One file, renamed.
	b.Reset()
	if err := Pack(&b, filepath.Join(src, "index.html"), "index.html"); err != nil {
		t.Fatal(err)
	}
	one := filepath.Join(t.TempDir(), "renamed.html")
	if err := Unpack(&b, "index.html", one, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(one); string(got) != "hello" {
		t.Errorf("one file: %q", got)
	}
}

// Entries a hostile container's tar might write are refused, and nothing
// lands outside dest.
func TestUnpackRefusesEscapes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []tar.Header
		want    string
	}{
		{"dot-dot", []tar.Header{{Name: "data/../../evil", Typeflag: tar.TypeReg}}, "not under"},
		{"absolute", []tar.Header{{Name: "/etc/evil", Typeflag: tar.TypeReg}}, "not under"},
		{"another top", []tar.Header{{Name: "other/x", Typeflag: tar.TypeReg}}, "not under"},
		{"through a link", []tar.Header{
			{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "data/in", Typeflag: tar.TypeSymlink, Linkname: "."},
			{Name: "data/in/x", Typeflag: tar.TypeReg},
		}, "is a symbolic link"},
		{"empty", nil, "nothing to copy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			for _, h := range tc.entries {
				h := h
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
			}
			tw.Close()
			root := t.TempDir()
			dest := filepath.Join(root, "out", "copy")
			err := Unpack(&b, "data", dest, func(string) {})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one with %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(root, "evil")); err == nil {
				t.Fatal("an entry escaped")
			}
		})
	}
}
