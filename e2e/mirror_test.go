package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestDockerHubNamesThroughTheClusterRegistry: with `skiff up --mirror
// docker.io`, an image put into the cluster registry as busybox:1.28 runs a
// Kubernetes manifest's pod that says image: busybox:1.28 — a Docker Hub
// name, as in the Kubernetes documentation — with no route to Docker Hub.
func TestDockerHubNamesThroughTheClusterRegistry(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t, "--mirror", "docker.io")
	if out, err := c.Skiff("image", "demo", "--name", "busybox:1.28"); err != nil {
		t.Fatalf("image demo: %v %s", err, out)
	}
	pod := `apiVersion: v1
kind: Pod
metadata:
  name: hub
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox:1.28
    command: [sh, -c, "echo from the mirror; sleep 1000"]
`
	if out, err := c.SkiffIn(pod, "apply", "-f", "-"); err != nil || !strings.Contains(out, "pod/hub created") {
		t.Fatalf("apply: %v %s", err, out)
	}
	eventually(t, "the pod runs busybox:1.28 from the cluster registry", func() error {
		out, err := c.Skiff("logs", "hub")
		if err != nil || out != "from the mirror\n" {
			return fmt.Errorf("%v: %q", err, out)
		}
		return nil
	})
	out, err := c.Skiff("get", "pod", "hub", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "apiVersion: v1\nkind: Pod\n") || !strings.Contains(out, "image: busybox:1.28") {
		t.Errorf("get -o yaml:\n%s", out)
	}
	if out, err := c.SkiffIn(pod, "apply", "-f", "-"); err != nil || out != "pod/hub unchanged\n" {
		t.Errorf("re-apply: %v %q", err, out)
	}
	if out, err := c.Skiff("delete", "pod", "hub", "--wait"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
}
