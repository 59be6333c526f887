package runtime

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A container's environment (which may hold Secret values) is kept out of
// its config.json, in a 0600 file under RunDir, yet the workload and exec
// see it; Remove deletes the file.
func TestEnvKeptUnderRunDir(t *testing.T) {
	r := newTestRuntime(t)
	const secret = "runtime-env-s3cret-91c"
	spec := shSpec("envfile", []string{busyboxRootfs(t)}, fmt.Sprintf(`[ ${#TOKEN} -eq %d ] && echo "token seen"; sleep 1000`, len(secret)))
	spec.Env = []string{"TOKEN=" + secret}
	if _, err := r.Create(bgCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(bgCtx(t), spec.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logText(t, filepath.Join(r.containerDir(spec.ID), defaultLogName)), "token seen") {
		if time.Now().After(deadline) {
			t.Fatal("the workload did not see its environment")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out bytes.Buffer
	if code, err := r.Exec(bgCtx(t), spec.ID, ExecSpec{Command: []string{"sh", "-c", "echo exec=${#TOKEN}"}, Stdout: &out}); err != nil || code != 0 {
		t.Fatalf("exec: %d %v", code, err)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("exec=%d", len(secret))) {
		t.Errorf("exec sees %q", out.String())
	}
	err := filepath.WalkDir(r.cfg.StateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("the environment is on the state dir's disk in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(r.cfg.envDir(), spec.ID+".json")
	st, err := os.Stat(envFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("env file: %v (mode %v), want mode 0600", err, st.Mode())
	}
	if err := r.Remove(bgCtx(t), spec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Errorf("env file after Remove: %v", err)
	}
}
