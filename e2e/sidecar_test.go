package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSidecarsFromKubernetesManifest: Kubernetes' native sidecars (init
// containers with restartPolicy Always) on a real cluster. A pod's app
// reaches its sidecar on localhost and `get pods` counts the sidecar in
// READY; a Job whose pods have a sidecar completes, the sidecar stopped.
func TestSidecarsFromKubernetesManifest(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t, "--mirror", "docker.io")
	if out, err := c.Skiff("image", "demo", "--name", "busybox:1.28"); err != nil {
		t.Fatalf("image demo: %v %s", err, out)
	}
	manifest := `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 5
  initContainers:
  - name: server
    image: busybox:1.28
    restartPolicy: Always
    command: [sh, -c, "mkdir -p /www && echo from-sidecar > /www/index.html && exec httpd -f -p 8080 -h /www"]
    startupProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
      failureThreshold: 30
  containers:
  - name: app
    image: busybox:1.28
    command: [sh, -c, "wget -qO- http://127.0.0.1:8080/ && trap 'exit 0' TERM && while true; do sleep 0.1; done"]
---
apiVersion: batch/v1
kind: Job
metadata: {name: with-sidecar}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 5
      initContainers:
      - name: logger
        image: busybox:1.28
        restartPolicy: Always
        command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
      containers:
      - name: main
        image: busybox:1.28
        command: [sh, -c, "echo work done"]
`
	if out, err := c.SkiffIn(manifest, "apply", "-f", "-"); err != nil || !strings.Contains(out, "pod/web created") || !strings.Contains(out, "job/with-sidecar created") {
		t.Fatalf("apply: %v %s", err, out)
	}
	eventually2(t, 3*time.Minute, "the pod ready with its sidecar", func() error {
		out, err := c.Skiff("get", "pod", "web")
		if err != nil || !strings.Contains(out, "2/2") || !strings.Contains(out, "Running") {
			return fmt.Errorf("%v\n%s", err, out)
		}
		return nil
	})
	if out, err := c.Skiff("logs", "web", "-c", "app"); err != nil || !strings.Contains(out, "from-sidecar") {
		t.Fatalf("logs of the app: %v %q; want what the sidecar served", err, out)
	}
	eventually2(t, 3*time.Minute, "the Job complete", func() error {
		out, err := c.Skiff("wait", "--for=condition=complete", "job/with-sidecar", "--timeout=50s")
		if err != nil || out != "job/with-sidecar condition met\n" {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	// As kubectl shows it: neither container ready, the pod Completed.
	out, err := c.Skiff("get", "pods", "-l", "batch.kubernetes.io/job-name=with-sidecar")
	if err != nil || !strings.Contains(out, "0/2") || !strings.Contains(out, "Completed") {
		t.Fatalf("the Job's pod: %v\n%s\nwant Completed with its sidecar stopped", err, out)
	}
}
