package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An Indexed Job of 10 completions, 3 at a time, applied as Kubernetes'
// batch/v1: index 3 fails on its first try, its retry (after the 10s
// back-off) succeeds, and the Job completes with every index done once.
// skiff wait, get, describe and logs job/NAME see it through.
func TestIndexedJobSucceedsDespiteAFailure(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t)
	ctl := t.TempDir()
	if err := os.Chmod(ctl, 0o777); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata: {name: shards}
spec:
  completions: 10
  parallelism: 3
  completionMode: Indexed
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      volumes:
      - name: ctl
        hostPath: {path: %s}
      containers:
      - name: main
        image: 127.0.0.1:5000/demo:latest
        command:
        - sh
        - -c
        - |
          if [ "$JOB_COMPLETION_INDEX" = 3 ] && [ ! -e /ctl/failed ]; then touch /ctl/failed; exit 1; fi
          echo "index $JOB_COMPLETION_INDEX on $(hostname)"
          touch /ctl/done-$JOB_COMPLETION_INDEX
        volumeMounts: [{name: ctl, mountPath: /ctl}]
        resources:
          requests: {cpu: 10m, memory: 8Mi}
`, ctl)
	start := time.Now()
	if out, err := c.SkiffIn(manifest, "apply", "-f", "-"); err != nil || !strings.Contains(out, "job/shards created") {
		t.Fatalf("apply: %v %s", err, out)
	}
	eventually2(t, 5*time.Minute, "skiff wait for the Job to complete", func() error {
		out, err := c.Skiff("wait", "--for=condition=complete", "job/shards", "--timeout=50s")
		if err != nil || out != "job/shards condition met\n" {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	t.Logf("the Job completed %s after it was applied", time.Since(start).Round(time.Second))
	out, err := c.Skiff("get", "jobs")
	if err != nil || !strings.Contains(out, "shards") || !strings.Contains(out, "Complete") || !strings.Contains(out, "10/10") {
		t.Fatalf("get jobs: %v\n%s", err, out)
	}
	eventually(t, "the failure counted", func() error {
		out, err := c.Skiff("describe", "job", "shards")
		if err != nil || !strings.Contains(out, "0 Active (0 Ready) / 10 Succeeded / 1 Failed") || !strings.Contains(out, "0-9") {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	for i := 0; i < 10; i++ {
		if _, err := os.Stat(filepath.Join(ctl, fmt.Sprintf("done-%d", i))); err != nil {
			t.Errorf("index %d did not run to the end: %v", i, err)
		}
	}
	if _, err := os.Stat(filepath.Join(ctl, "failed")); err != nil {
		t.Errorf("the induced failure did not happen: %v", err)
	}
	out, err = c.Skiff("logs", "job/shards")
	if err != nil || !strings.HasPrefix(out, "index ") || !strings.Contains(out, " on shards-") {
		t.Fatalf("logs job/shards: %v %q", err, out)
	}
	if out, err := c.Skiff("delete", "job", "shards", "--wait"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	eventually(t, "the Job's pods collected", func() error {
		out, err := c.Skiff("get", "pods")
		if err != nil || strings.Contains(out, "shards-") {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
}
