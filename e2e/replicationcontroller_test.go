package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestKubernetesDocsReplicationController runs the documentation's
// ReplicationController (controllers/replication.yaml) as the corpus test
// does, alone: it applies unchanged and reaches the documented state, 3
// nginx pods Running and ready; `skiff get rc` shows them, scaling to 1
// leaves one, and deleting it takes its pods with it.
func TestKubernetesDocsReplicationController(t *testing.T) {
	t.Parallel()
	var doc *corpusDoc
	for _, d := range loadCorpus(t) {
		if d.file == "controllers/replication.yaml" {
			doc = d
		}
	}
	if doc == nil {
		t.Fatal("controllers/replication.yaml is not in the corpus")
	}
	c := newUpCluster(t, "--mirror", "docker.io,*")
	if refused := pushStandins(t, c, corpusImages(t, []*corpusDoc{doc})); len(refused) > 0 {
		t.Fatalf("no stand-in for %v", refused)
	}
	doc.ns = "default"
	if out, err := c.SkiffIn(string(doc.raw), "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v %s", err, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := doc.reached(c, []*corpusDoc{doc})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the documented state was not reached: %v", err)
		}
		time.Sleep(time.Second)
	}
	runningPods := func() (int, error) {
		out, err := c.Skiff("get", "pods", "-l", "app=nginx", "-o", "json")
		if err != nil {
			return 0, err
		}
		var list struct {
			Items []struct {
				Metadata struct {
					DeletionTimestamp string `json:"deletionTimestamp"`
					OwnerReferences   []struct {
						Kind string `json:"kind"`
					} `json:"ownerReferences"`
				} `json:"metadata"`
				Status struct {
					Phase string `json:"phase"`
				} `json:"status"`
			} `json:"items"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			return 0, err
		}
		n := 0
		for _, p := range list.Items {
			refs := p.Metadata.OwnerReferences
			if len(refs) != 1 || refs[0].Kind != "ReplicationController" {
				return 0, fmt.Errorf("a pod owned by %v", refs)
			}
			if p.Status.Phase == "Running" && p.Metadata.DeletionTimestamp == "" {
				n++
			}
		}
		return n, nil
	}
	if n, err := runningPods(); err != nil || n != 3 {
		t.Fatalf("%d nginx pods Running (%v), want 3", n, err)
	}
	if out, err := c.Skiff("get", "rc"); err != nil || !strings.Contains(out, "DESIRED   CURRENT   READY") || !strings.Contains(out, "nginx   3         3         3") {
		t.Errorf("get rc: %v\n%s", err, out)
	}

	waitPods := func(what string, want int) {
		t.Helper()
		var n int
		var err error
		for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			if out, gerr := c.Skiff("get", "pods", "-l", "app=nginx", "--no-headers"); gerr == nil && strings.Count(out, "\n") == want {
				if n, err = runningPods(); err == nil && n == want {
					return
				}
			}
		}
		pods, _ := c.Skiff("get", "pods", "-l", "app=nginx", "-o", "wide")
		// Their metadata too: owners, deletion, finalizers.
		manifests, _ := c.Skiff("get", "pods", "-l", "app=nginx", "-o", "yaml")
		rcs, _ := c.Skiff("get", "rc", "-o", "wide")
		events, _ := c.Skiff("get", "events")
		t.Fatalf("%s: %d pods Running (%v), want %d\npods:\n%s\n%s\nreplication controllers:\n%s\nevents:\n%s", what, n, err, want, pods, manifests, rcs, events)
	}
	if out, err := c.Skiff("scale", "rc/nginx", "--replicas", "1"); err != nil {
		t.Fatalf("scale: %v %s", err, out)
	}
	waitPods("scaled to 1", 1)
	if out, err := c.Skiff("delete", "rc", "nginx"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	waitPods("deleted", 0)
}
