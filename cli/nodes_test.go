package cli

import (
	"context"
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestCordonAndTaint(t *testing.T) {
	r := newRunner(t)
	ctx := context.Background()
	if _, err := r.srv.Client.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	node := func() *skiffv1.Node {
		n, err := r.srv.Client.Nodes().Get(ctx, "", "n1")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if res := r.runIn(nil, "cordon", "n1"); res.e != nil || res.out != "node/n1 cordoned\n" || !node().Spec.Unschedulable {
		t.Fatalf("cordon: %+v", res)
	}
	if res := r.runIn(nil, "uncordon", "n1"); res.e != nil || node().Spec.Unschedulable {
		t.Fatalf("uncordon: %+v", res)
	}
	if res := r.runIn(nil, "taint", "n1", "dedicated=db:NoSchedule", "gpu:NoExecute"); res.e != nil {
		t.Fatalf("taint: %+v", res)
	}
	got := node().Spec.Taints
	if len(got) != 2 || got[0].Key != "dedicated" || got[0].Value != "db" || got[0].Effect != "NoSchedule" || got[1].Key != "gpu" || got[1].Effect != "NoExecute" {
		t.Fatalf("taints: %v", got)
	}
	// The same taint again replaces it rather than adding a copy.
	r.runIn(nil, "taint", "n1", "dedicated=web:NoSchedule")
	if got := node().Spec.Taints; len(got) != 2 {
		t.Fatalf("re-taint duplicated: %v", got)
	}
	if res := r.runIn(nil, "taint", "n1", "dedicated-"); res.e != nil || len(node().Spec.Taints) != 1 {
		t.Fatalf("remove by key: %+v %v", res, node().Spec.Taints)
	}
	for _, bad := range []string{"x=y", "x=y:Sometimes", ":NoSchedule"} {
		res := r.runIn(nil, "taint", "n1", bad)
		if res.e == nil || !strings.Contains(res.e.Error(), "taint") {
			t.Fatalf("taint %q accepted: %+v", bad, res)
		}
	}
	if res := r.runIn(nil, "cordon", "nope"); res.e == nil || !strings.Contains(res.e.Error(), `node "nope" not found`) {
		t.Fatalf("cordon of a missing node: %+v", res)
	}
}

func TestLogsOfUnscheduledPodSaysSo(t *testing.T) {
	r := newRunner(t)
	p := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "web"}, Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "x"}}}}
	if _, err := r.srv.Client.Pods().Create(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"logs", "web"}, {"exec", "web", "--", "true"}} {
		res := r.runIn(nil, args...)
		if res.e == nil || !strings.Contains(res.e.Error(), "not scheduled to a node yet") {
			t.Fatalf("%v: %+v", args, res)
		}
	}
	if res := r.runIn(nil, "exec", "web", "true"); res.e == nil || !strings.Contains(res.e.Error(), "--") {
		t.Fatalf("exec without --: %+v", res)
	}
}
