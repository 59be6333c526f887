package apiserver

import (
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestPodIndexFollowsBindingsAndDeletes(t *testing.T) {
	x := &podIndex{byNode: map[string]map[string]*skiffv1.Pod{}, nodeOf: map[string]string{}}
	pod := func(ns, name, node string) *skiffv1.Pod {
		return &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Namespace: ns, Name: name}, Spec: &skiffv1.PodSpec{NodeName: node}}
	}
	if _, ok := x.pods("n1", "a"); ok {
		t.Fatal("an index that has not listed yet answered")
	}
	x.synced = true
	x.setLocked(pod("a", "p1", "n1"), false)
	x.setLocked(pod("b", "p2", "n1"), false)
	x.setLocked(pod("a", "p3", ""), false) // pending: on no node
	names := func(node, ns string) []string {
		ps, _ := x.pods(node, ns)
		var out []string
		for _, p := range ps {
			out = append(out, p.Metadata.Name)
		}
		return out
	}
	if got := names("n1", "a"); len(got) != 1 || got[0] != "p1" {
		t.Fatalf("n1/a: %v", got)
	}
	x.setLocked(pod("a", "p3", "n2"), false) // bound
	x.setLocked(pod("a", "p1", "n2"), false) // (a pod of the same name elsewhere)
	if got := names("n1", "a"); len(got) != 0 {
		t.Fatalf("n1/a after p1 moved: %v", got)
	}
	if got := names("n2", "a"); len(got) != 2 {
		t.Fatalf("n2/a: %v", got)
	}
	x.setLocked(pod("a", "p3", "n2"), true)
	x.setLocked(pod("b", "p2", "n1"), true)
	if got := names("n2", "a"); len(got) != 1 || len(x.byNode["n1"]) != 0 {
		t.Fatalf("after deletes: n2/a %v, n1 %v", got, x.byNode["n1"])
	}
}
