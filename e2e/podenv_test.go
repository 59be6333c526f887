package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Kubernetes documentation's downward API examples, applied unchanged
// on a real `skiff up` (their registry.k8s.io/busybox image served by the
// cluster registry, mirroring registry.k8s.io): the pod's fields and its container's
// resources as env, and its labels and annotations as files that follow
// a label change, reaching the output the documentation shows.
func TestKubernetesDownwardAPIExamples(t *testing.T) {
	t.Parallel()
	c := newUpCluster(t, "--mirror", "registry.k8s.io,k8s.gcr.io")
	for _, tag := range []string{"busybox:1.27.2", "busybox:1.24"} {
		if out, err := c.Skiff("image", "demo", "--name", tag); err != nil {
			t.Fatalf("image demo: %v %s", err, out)
		}
	}
	dir := filepath.Join("testdata", "kubernetes", "pods", "inject")
	for _, f := range []string{"dapi-envars-pod.yaml", "dapi-envars-container.yaml", "dapi-volume.yaml", "dapi-volume-resources.yaml"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := c.SkiffIn(string(data), "apply", "-f", "-"); err != nil || !strings.Contains(out, "created") {
			t.Fatalf("apply %s: %v\n%s", f, err, out)
		}
	}
	logs := func(pod string, want ...string) {
		t.Helper()
		eventually(t, pod+" prints what the documentation shows", func() error {
			out, err := c.Skiff("logs", pod)
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					return fmt.Errorf("no %q in %q", w, out)
				}
			}
			return nil
		})
	}
	var pod struct {
		Spec   struct{ NodeName string }
		Status struct {
			PodIP string `json:"podIP"`
		}
	}
	eventually(t, "the pod has its IP", func() error {
		out, err := c.Skiff("get", "pod", "dapi-envars-fieldref", "-o", "json")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if err := json.Unmarshal([]byte(out), &pod); err != nil || pod.Status.PodIP == "" {
			return fmt.Errorf("no podIP yet (%v)", err)
		}
		return nil
	})
	logs("dapi-envars-fieldref", pod.Spec.NodeName+"\ndapi-envars-fieldref\ndefault\n"+pod.Status.PodIP+"\ndefault\n")
	logs("dapi-envars-resourcefieldref", "1\n1\n33554432\n67108864\n")
	logs("kubernetes-downwardapi-volume-example-2", "250\n125\n64\n32")
	logs("kubernetes-downwardapi-volume-example",
		"cluster=\"test-cluster1\"\nrack=\"rack-22\"\nzone=\"us-est-coast\"",
		"build=\"two\"\nbuilder=\"john-doe\"")
	data, err := os.ReadFile(filepath.Join(dir, "dapi-volume.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := c.SkiffIn(strings.Replace(string(data), "zone: us-est-coast", "zone: eu-west", 1), "apply", "-f", "-"); err != nil {
		t.Fatalf("apply the label change: %v %s", err, out)
	}
	logs("kubernetes-downwardapi-volume-example", "rack=\"rack-22\"\nzone=\"eu-west\"")
	for _, p := range []string{"dapi-envars-fieldref", "dapi-envars-resourcefieldref", "kubernetes-downwardapi-volume-example", "kubernetes-downwardapi-volume-example-2"} {
		if out, err := c.Skiff("delete", "pod", p, "--wait"); err != nil {
			t.Fatalf("delete %s: %v %s", p, err, out)
		}
	}
}
