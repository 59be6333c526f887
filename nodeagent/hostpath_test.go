package nodeagent

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Each HostPathType checks what is at the path, and the *OrCreate types
// (and no type) make what is missing, as the kubelet and container
// runtimes do.
func TestPrepareHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	cases := []struct {
		path, typ string
		want      string // error substring; "" succeeds
		made      os.FileMode
	}{
		{filepath.Join(dir, "new-untyped"), "", "", os.ModeDir},
		{file, "", "", 0},
		{filepath.Join(dir, "new-dir", "deep"), "DirectoryOrCreate", "", os.ModeDir},
		{dir, "Directory", "", os.ModeDir},
		{file, "Directory", "is not a directory", 0},
		{file, "DirectoryOrCreate", "is not a directory", 0},
		{filepath.Join(dir, "absent"), "Directory", "does not exist", 0},
		{filepath.Join(dir, "new-file"), "FileOrCreate", "", 0},
		{filepath.Join(dir, "no-parent", "f"), "FileOrCreate", "create file", 0},
		{dir, "FileOrCreate", "is not a file", 0},
		{file, "File", "", 0},
		{dir, "File", "is not a file", 0},
		{sock, "Socket", "", os.ModeSocket},
		{file, "Socket", "is not a socket", 0},
		{"/dev/null", "CharDevice", "", os.ModeDevice | os.ModeCharDevice},
		{"/dev/null", "BlockDevice", "is not a block device", 0},
	}
	for _, c := range cases {
		err := prepareHostPath(&skiffv1.HostPathSource{Path: c.path, Type: c.typ})
		if c.want == "" {
			if err != nil {
				t.Errorf("%s %q: %v", c.typ, c.path, err)
				continue
			}
			st, err := os.Stat(c.path)
			if err != nil || st.Mode().Type() != c.made {
				t.Errorf("%s %q: afterwards %v, %v; want type %v", c.typ, c.path, st, err, c.made)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v, want an error containing %q", c.typ, c.path, err, c.want)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "new-file")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("FileOrCreate made %v (%v), want mode 0644", st, err)
	}
}
