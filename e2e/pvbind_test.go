package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPersistentVolumeBinding follows the Kubernetes documentation's
// "Configure a Pod to Use a PersistentVolume for Storage" on a real `skiff
// up`, with its manifests as they are (only the PersistentVolume's
// hostPath moved from /mnt/data to a directory of the test's, so nothing
// outside it is written): the pod waits while its claim is unbound, the
// claim binds to task-pv-volume by storage class and capacity, the pod
// serves the index.html written into the PersistentVolume's hostPath, and
// deleting the claim releases the volume (Retain) with its data kept.
func TestPersistentVolumeBinding(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t, "--mirror", "docker.io")
	// nginx's stand-in: the demo image (busybox) under the name the pod
	// pulls through the mirror.
	if out, err := c.Skiff("image", "demo", "--name", "nginx"); err != nil {
		t.Fatalf("image demo: %v %s", err, out)
	}
	dir := filepath.Join("testdata", "kubernetes", "pods", "storage")
	read := func(f string) string {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	data := t.TempDir()
	// The documentation's first step, on the node.
	if err := os.WriteFile(filepath.Join(data, "index.html"), []byte("Hello from Kubernetes storage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pvYAML := read("pv-volume.yaml")
	if !strings.Contains(pvYAML, "path: /mnt/data") {
		t.Fatalf("pv-volume.yaml no longer says path: /mnt/data:\n%s", pvYAML)
	}
	pvYAML = strings.Replace(pvYAML, "path: /mnt/data", "path: "+data, 1)

	// The claim and the pod first: no volume of class manual exists, so
	// the claim waits and so does the pod, saying why.
	for _, f := range []string{"pv-claim.yaml", "pv-pod.yaml"} {
		if out, err := c.SkiffIn(read(f), "apply", "-f", "-"); err != nil || !strings.Contains(out, "created") {
			t.Fatalf("apply %s: %v\n%s", f, err, out)
		}
	}
	eventually(t, "the pod waits for its claim", func() error {
		out, err := c.Skiff("describe", "pod", "task-pv-pod")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(out, "pod has unbound immediate PersistentVolumeClaims") {
			return fmt.Errorf("describe does not say the claim is unbound:\n%s", out)
		}
		return nil
	})
	eventually(t, "the claim says why it waits", func() error {
		out, err := c.Skiff("describe", "pvc", "task-pv-claim")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(out, "Pending") || !strings.Contains(out, "FailedBinding") || !strings.Contains(out, `storage class "manual"`) {
			return fmt.Errorf("describe pvc:\n%s", out)
		}
		return nil
	})

	if out, err := c.SkiffIn(pvYAML, "apply", "-f", "-"); err != nil || out != "persistentvolume/task-pv-volume created\n" {
		t.Fatalf("apply pv-volume.yaml: %v\n%s", err, out)
	}
	// kubectl get pvc task-pv-claim: Bound to task-pv-volume, with the
	// volume's 10Gi (the claim asked 3Gi).
	eventually(t, "the claim is bound to task-pv-volume", func() error {
		out, err := c.Skiff("get", "pvc", "task-pv-claim")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS AGE" {
			return fmt.Errorf("get pvc:\n%s", out)
		}
		if f := strings.Fields(lines[1]); len(f) != 7 || f[0] != "task-pv-claim" || f[1] != "Bound" || f[2] != "task-pv-volume" || f[3] != "10Gi" || f[4] != "RWO" || f[5] != "manual" {
			return fmt.Errorf("get pvc:\n%s", out)
		}
		return nil
	})
	out, err := c.Skiff("get", "pv", "task-pv-volume")
	if err != nil {
		t.Fatalf("get pv: %v %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS AGE" {
		t.Fatalf("get pv:\n%s", out)
	}
	if f := strings.Fields(lines[1]); len(f) != 8 || f[1] != "10Gi" || f[2] != "RWO" || f[3] != "Retain" || f[4] != "Bound" || f[5] != "default/task-pv-claim" || f[6] != "manual" {
		t.Fatalf("get pv:\n%s", out)
	}
	out, err = c.Skiff("get", "pv", "task-pv-volume", "-o", "yaml")
	if err != nil || !strings.Contains(out, "apiVersion: v1\nkind: PersistentVolume\n") || !strings.Contains(out, "persistentVolumeReclaimPolicy: Retain") ||
		!strings.Contains(out, "name: task-pv-claim") || !strings.Contains(out, "phase: Bound") {
		t.Fatalf("get pv -o yaml: %v\n%s", err, out)
	}

	// The pod runs and its container sees the file in the volume's
	// hostPath, where nginx serves from.
	eventually(t, "the pod reads index.html from the PersistentVolume", func() error {
		out, err := c.Skiff("exec", "task-pv-pod", "--", "cat", "/usr/share/nginx/html/index.html")
		if err != nil || out != "Hello from Kubernetes storage\n" {
			return fmt.Errorf("%v: %q", err, out)
		}
		return nil
	})
	// And what it writes lands there.
	if out, err := c.Skiff("exec", "task-pv-pod", "--", "sh", "-c", "echo from the pod > /usr/share/nginx/html/note"); err != nil {
		t.Fatalf("exec write: %v %s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(data, "note")); err != nil || string(got) != "from the pod\n" {
		t.Fatalf("the pod's write in the hostPath: %q, %v", got, err)
	}

	// The documentation's clean-up: pod, claim, then the volume is
	// Released (Retain) with its data left.
	for _, args := range [][]string{{"delete", "pod", "task-pv-pod", "--wait"}, {"delete", "pvc", "task-pv-claim"}} {
		if out, err := c.Skiff(args...); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	eventually(t, "the volume is Released", func() error {
		out, err := c.Skiff("get", "pv", "task-pv-volume")
		if err != nil || !strings.Contains(out, "Released") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(data, "index.html")); err != nil {
		t.Fatalf("Retain removed the data: %v", err)
	}
	if out, err := c.Skiff("delete", "pv", "task-pv-volume"); err != nil {
		t.Fatalf("delete pv: %v %s", err, out)
	}
}
