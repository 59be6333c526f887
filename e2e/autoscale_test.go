package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A replica set whose pods burn CPU while a file exists: the autoscaler,
// fed by the agent's cgroup readings, takes it from 1 to at least 3, and
// back to 1 once the load stops and the scale-down window has passed.
func TestAutoscalerFollowsMeasuredCPU(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t, "--autoscaler-sync-period", "2s", "--scale-down-window", "6s")
	ctl := t.TempDir()
	burn := filepath.Join(ctl, "burn")
	if err := os.WriteFile(burn, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`apiVersion: skiff/v1
kind: ReplicaSet
metadata: {name: burner}
spec:
  replicas: 1
  selector: {matchLabels: {app: burner}}
  template:
    metadata: {labels: {app: burner}}
    spec:
      terminationGracePeriodSeconds: 1
      volumes:
      - name: ctl
        hostPath: {path: %s}
      containers:
      - name: main
        image: 127.0.0.1:5000/demo:latest
        command: [sh, -c, "while [ -f /ctl/burn ]; do :; done; exec sleep 100000"]
        volumeMounts: [{name: ctl, mountPath: /ctl}]
        resources:
          requests: {cpu: 50m, memory: 8Mi}
          limits: {cpu: 200m}
`, ctl)
	if out, err := c.SkiffIn(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v %s", err, out)
	}
	if out, err := c.Skiff("autoscale", "rs", "burner", "--min", "1", "--max", "4", "--cpu-percent", "50"); err != nil {
		t.Fatalf("autoscale: %v %s", err, out)
	}
	replicas := func() int {
		out, err := c.Skiff("get", "rs", "burner")
		if err != nil {
			return -1
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 2 {
			return -1
		}
		n, _ := strconv.Atoi(strings.Fields(lines[1])[1])
		return n
	}
	eventually(t, "scale up under load", func() error {
		if n := replicas(); n < 3 {
			return fmt.Errorf("%d replicas", n)
		}
		return nil
	})
	if out, err := c.Skiff("top", "pods"); err != nil || !strings.Contains(out, "burner-") {
		t.Fatalf("top pods: %v\n%s", err, out)
	}
	os.Remove(burn)
	eventually(t, "scale down after the load stops", func() error {
		if n := replicas(); n != 1 {
			return fmt.Errorf("%d replicas", n)
		}
		return nil
	})
	out, err := c.Skiff("describe", "autoscaler", "burner")
	if err != nil || !strings.Contains(out, "ScalingActive") {
		t.Fatalf("describe: %v\n%s", err, out)
	}
}
