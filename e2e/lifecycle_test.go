package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPodLifecycleFromKubernetesManifest: a Kubernetes manifest with init
// containers, postStart/preStop hooks and a startup probe runs on a real
// cluster as the documentation describes — the init containers in order
// before the app, the hooks around its life — and get, describe and -o yaml
// show it the Kubernetes way. A failing init container shows
// Init:CrashLoopBackOff.
func TestPodLifecycleFromKubernetesManifest(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t, "--mirror", "docker.io")
	if out, err := c.Skiff("image", "demo", "--name", "busybox:1.28"); err != nil {
		t.Fatalf("image demo: %v %s", err, out)
	}
	shared := t.TempDir()
	pod := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: lifecycle
spec:
  terminationGracePeriodSeconds: 10
  initContainers:
  - name: install
    image: busybox:1.28
    command: [sh, -c, "echo installed > /work-dir/index.html; echo install > /work-dir/order"]
    volumeMounts:
    - {name: workdir, mountPath: /work-dir}
  - name: check
    image: busybox:1.28
    command: [sh, -c, "test -s /work-dir/index.html && echo check >> /work-dir/order"]
    volumeMounts:
    - {name: workdir, mountPath: /work-dir}
  containers:
  - name: app
    image: busybox:1.28
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    volumeMounts:
    - {name: workdir, mountPath: /work-dir}
    - {name: shared, mountPath: /shared}
    startupProbe:
      exec: {command: [test, -f, /work-dir/index.html]}
      periodSeconds: 1
      timeoutSeconds: 10
      failureThreshold: 30
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "echo postStart >> /work-dir/order"]}
      preStop:
        exec: {command: [sh, -c, "echo preStop > /shared/prestop"]}
  volumes:
  - name: workdir
    emptyDir: {}
  - name: shared
    hostPath: {path: %s}
---
apiVersion: v1
kind: Pod
metadata:
  name: initfail
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: setup
    image: busybox:1.28
    command: [sh, -c, "exit 1"]
  containers:
  - name: app
    image: busybox:1.28
    command: [sleep, "1000"]
`, shared)
	if out, err := c.SkiffIn(pod, "apply", "-f", "-"); err != nil || !strings.Contains(out, "pod/lifecycle created") {
		t.Fatalf("apply: %v %s", err, out)
	}
	eventually(t, "the pod runs after its init containers", func() error {
		out, err := c.Skiff("get", "pod", "lifecycle")
		if err != nil || !strings.Contains(out, "1/1") || !strings.Contains(out, "Running") {
			return fmt.Errorf("%v: %q", err, out)
		}
		return nil
	})
	if out, err := c.Skiff("exec", "lifecycle", "--", "cat", "/work-dir/order"); err != nil || out != "install\ncheck\npostStart\n" {
		desc, _ := c.Skiff("describe", "pod", "lifecycle")
		t.Fatalf("order: %v %q: want the init containers in order, then postStart\n%s", err, out, desc)
	}
	out, err := c.Skiff("describe", "pod", "lifecycle")
	if err != nil || !strings.Contains(out, "Init Containers:") || !strings.Contains(out, "PreStop:") || !strings.Contains(out, "Startup:") {
		t.Errorf("describe: %v\n%s", err, out)
	}
	out, err = c.Skiff("get", "pod", "lifecycle", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"initContainers:", "initContainerStatuses:", "postStart:", "startupProbe:", "terminationMessagePath: /dev/termination-log"} {
		if !strings.Contains(out, want) {
			t.Errorf("get -o yaml lacks %q:\n%s", want, out)
		}
	}
	eventually(t, "the failing init container backs off", func() error {
		out, err := c.Skiff("get", "pod", "initfail")
		if err != nil || !strings.Contains(out, "Init:CrashLoopBackOff") {
			return fmt.Errorf("%v: %q", err, out)
		}
		return nil
	})
	if out, err := c.Skiff("delete", "pod", "lifecycle", "--wait"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(shared, "prestop")); err != nil || string(b) != "preStop\n" {
		t.Fatalf("the preStop hook's file: %v %q", err, b)
	}
}
