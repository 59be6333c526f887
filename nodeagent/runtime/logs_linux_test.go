package runtime

import (
	"context"
	"fmt"
	"os"
	"testing"
)

func TestContainerLogRotation(t *testing.T) {
	r := newTestRuntime(t)
	layer := busyboxRootfs(t)
	spec := shSpec("chatty", []string{layer}, `i=0; while [ $i -lt 300 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done`)
	spec.LogMaxBytes, spec.LogMaxFiles = 4096, 20
	st, _ := run(t, r, spec)
	if st.ExitCode != 0 {
		t.Fatalf("%+v", st)
	}
	if _, err := os.Stat(st.LogPath + ".5"); err != nil {
		t.Errorf("no rotation: %v", err)
	}
	// Every record, in order per stream, across the rotated files.
	next := map[string]int{}
	err := ReadLogs(context.Background(), st.LogPath, LogOptions{Tail: -1}, func(rec LogRecord) error {
		want := fmt.Sprintf("%s %d", map[string]string{"stdout": "out", "stderr": "err"}[rec.Stream], next[rec.Stream])
		if string(rec.Text) != want {
			return fmt.Errorf("record %q, want %q", rec.Text, want)
		}
		next[rec.Stream]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if next["stdout"] != 300 || next["stderr"] != 300 {
		t.Errorf("records: %v", next)
	}
}
