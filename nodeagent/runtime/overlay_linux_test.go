package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
