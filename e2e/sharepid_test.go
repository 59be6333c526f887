package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShareProcessNamespace follows the Kubernetes documentation's "Share
// Process Namespace between Containers in a Pod": its manifest applies
// unchanged, the shell container's ps shows the pod's pause process as
// PID 1 and nginx's processes, and a signal sent from the shell ends
// nginx, which the kubelet's restart policy starts again.
func TestShareProcessNamespace(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t, "--mirror", "docker.io,*")
	manifest, err := os.ReadFile(filepath.Join(corpusDir, "pods", "share-process-namespace.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	pushStandins(t, c, map[string][]int{"nginx": nil, "busybox:1.28": nil})
	if out, err := c.SkiffIn(string(manifest), "apply", "-f", "-"); err != nil || !strings.Contains(out, "pod/nginx created") {
		t.Fatalf("apply: %v %s", err, out)
	}
	var ps string
	eventually(t, "the shell container sees nginx's processes", func() error {
		out, err := c.Skiff("exec", "nginx", "-c", "shell", "--", "ps", "ax")
		if err != nil || !strings.Contains(out, "httpd -p 80") || !strings.Contains(out, "/usr/sbin/nginx") {
			return fmt.Errorf("%v: %s", err, out)
		}
		ps = out
		return nil
	})
	if pid1, err := c.Skiff("exec", "nginx", "-c", "shell", "--", "cat", "/proc/1/cmdline"); err != nil || !strings.Contains(pid1, "__skiff-pause") {
		t.Fatalf("PID 1 is not the pod's pause process: %v %q\n%s", err, pid1, ps)
	}
	script := `kill -TERM $(ps ax | grep '[/]usr/sbin/nginx' | awk '{print $1}')`
	if out, err := c.Skiff("exec", "nginx", "-c", "shell", "--", "sh", "-c", script); err != nil {
		t.Fatalf("signal nginx from the shell: %v %s", err, out)
	}
	eventually(t, "nginx, ended by the shell's SIGTERM, restarted", func() error {
		out, err := c.Skiff("get", "pod", "nginx", "-o", "json")
		if err != nil {
			return err
		}
		var p struct {
			Status struct {
				ContainerStatuses []struct {
					Name         string
					RestartCount int
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			return err
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == "nginx" && s.RestartCount >= 1 {
				return nil
			}
		}
		return fmt.Errorf("no restart yet: %s", out)
	})
	if out, err := c.Skiff("delete", "pod", "nginx", "--wait"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
}
