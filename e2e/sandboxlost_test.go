package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A pod whose sandbox is removed from under it (its namespaces unpinned
// and its directory deleted, as a clean-up by hand would) is killed and
// started again in a new sandbox, as the kubelet does when a pod's
// sandbox changed: it serves again, with a restart counted and a
// SandboxChanged event.
func TestPodOutlivesItsSandboxBeingRemoved(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t)
	apply(t, c, `apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: 127.0.0.1:5000/demo:latest
    command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
`)
	ready := func(restarts int) func() error {
		return func() error {
			ps, err := pods(c, "app=web")
			if err != nil {
				return err
			}
			if len(ps) != 1 || !ps[0].Ready || ps[0].Restarts != restarts {
				return fmt.Errorf("pods %+v", ps)
			}
			return nil
		}
	}
	eventually(t, "web ready", ready(0))
	uid, err := c.Skiff("get", "pod", "web", "-o", "jsonpath={.metadata.uid}")
	if err != nil || uid == "" {
		t.Fatalf("uid: %v %q", err, uid)
	}
	dir := filepath.Join(c.runDir, "runtime", "sandboxes", uid)
	for _, ns := range []string{"net", "ipc", "uts"} {
		if err := unix.Unmount(filepath.Join(dir, ns), unix.MNT_DETACH); err != nil {
			t.Fatalf("unpin %s: %v", ns, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	eventually(t, "web ready again after one restart", ready(1))
	eventually(t, "web serves from its new sandbox", func() error {
		ps, err := pods(c, "app=web")
		if err != nil || len(ps) != 1 {
			return fmt.Errorf("pods %+v: %v", ps, err)
		}
		out, err := c.InNode("timeout", "10", "/bin/busybox", "wget", "-q", "-O", "-", "http://"+ps[0].IP+":8080/")
		if err != nil || !strings.Contains(out, "Hello from skiff") {
			return fmt.Errorf("%v %s", err, out)
		}
		return nil
	})
	if out, err := c.Skiff("describe", "pod", "web"); err != nil || !strings.Contains(out, "SandboxChanged") {
		t.Errorf("describe after the sandbox was replaced: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "net")); err != nil {
		t.Errorf("the new sandbox's network namespace: %v", err)
	}
}
