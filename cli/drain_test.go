package cli

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// drain cordons the node and refuses, evicting nothing, while it holds
// DaemonSet pods, unowned pods or emptyDir pods; with the flags that lift
// each refusal it evicts the rest (finished pods without question), leaves
// the DaemonSet's, and says so. Pods of other nodes are never touched.
func TestDrain(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	c := r.srv.Client
	for _, n := range []string{"n1", "n2"} {
		if _, err := c.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}
	owned := func(kind string) []*skiffv1.OwnerReference {
		return []*skiffv1.OwnerReference{{Kind: kind, Name: "owner", Uid: "u-" + kind, Controller: true}}
	}
	pods := []struct {
		name, node string
		owners     []*skiffv1.OwnerReference
		emptyDir   bool
		phase      string
	}{
		{"web-1", "n1", owned("ReplicaSet"), false, ""},
		{"agent-x", "n1", owned("DaemonSet"), false, ""},
		{"lone", "n1", nil, false, ""},
		{"cache-1", "n1", owned("ReplicaSet"), true, ""},
		{"batch-done", "n1", nil, false, "Succeeded"},
		{"web-2", "n2", owned("ReplicaSet"), false, ""},
	}
	for _, p := range pods {
		pod := &skiffv1.Pod{
			Metadata: &skiffv1.ObjectMeta{Name: p.name, OwnerReferences: p.owners},
			Spec:     &skiffv1.PodSpec{NodeName: p.node, Containers: []*skiffv1.Container{{Name: "c", Image: "x"}}},
		}
		if p.emptyDir {
			pod.Spec.Volumes = []*skiffv1.PodVolume{{Name: "scratch", EmptyDir: &skiffv1.EmptyDirSource{}}}
		}
		created, err := c.Pods().Create(ctx, pod)
		if err != nil {
			t.Fatal(err)
		}
		if p.phase != "" {
			created.Status = &skiffv1.PodStatus{Phase: p.phase}
			if _, err := c.Pods().UpdateStatus(ctx, created); err != nil {
				t.Fatal(err)
			}
		}
	}
	left := func() []string {
		got, _, err := c.Pods().List(ctx, client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range got {
			names = append(names, p.Metadata.Name)
		}
		slices.Sort(names)
		return names
	}

	res := r.run("drain", "n1")
	if res.e == nil {
		t.Fatalf("drain with DaemonSet, unowned and emptyDir pods succeeded: %+v", res)
	}
	for _, want := range []string{"--ignore-daemonsets", "default/agent-x", "--force", "default/lone", "--delete-emptydir-data", "default/cache-1"} {
		if !strings.Contains(res.err, want) {
			t.Errorf("refusal does not mention %s:\n%s", want, res.err)
		}
	}
	if n, _ := c.Nodes().Get(ctx, "", "n1"); !n.GetSpec().GetUnschedulable() {
		t.Error("the refused drain left the node schedulable")
	}
	if got := left(); len(got) != 6 {
		t.Fatalf("the refused drain deleted pods: %v left", got)
	}

	if res := r.run("drain", "n1", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--dry-run=client"); res.e != nil || !strings.Contains(res.out, "evicting pod default/lone (dry run)") || len(left()) != 6 {
		t.Fatalf("dry run: %+v, left %v", res, left())
	}

	res = r.run("drain", "n1", "--ignore-daemonsets", "--delete-emptydir-data", "--force", "--grace-period=0")
	if res.e != nil {
		t.Fatalf("drain: %+v", res)
	}
	for _, want := range []string{"node/n1 already cordoned", "evicting pod default/web-1", "pod/lone evicted", "pod/cache-1 evicted", "pod/batch-done evicted", "node/n1 drained"} {
		if !strings.Contains(res.out, want) {
			t.Errorf("output lacks %q:\n%s", want, res.out)
		}
	}
	if !strings.Contains(res.err, "ignoring DaemonSet-managed pods: default/agent-x") || !strings.Contains(res.err, "deleting pods that declare no controller: default/lone") {
		t.Errorf("warnings:\n%s", res.err)
	}
	if got := left(); !slices.Equal(got, []string{"agent-x", "web-2"}) {
		t.Fatalf("after the drain %v are left, want the DaemonSet's and the other node's", got)
	}
	if res := r.run("drain", "nope"); res.e == nil || !strings.Contains(res.err, `"nope" not found`) {
		t.Fatalf("drain of a missing node: %+v", res)
	}
}
