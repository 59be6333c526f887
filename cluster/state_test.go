package cluster

import (
	"strings"
	"testing"
)

func TestMembersDefaultAndAdded(t *testing.T) {
	l := layout{spec: Spec{Name: "dev", Nodes: 3, Subnet: 7}}
	if got := strings.Join(l.nodes(), ","); got != "node-1,node-2,node-3" {
		t.Fatalf("nodes of a fresh cluster: %s", got)
	}
	m, err := l.addMember("node-4")
	if err != nil {
		t.Fatal(err)
	}
	if m.Host != 4 || l.nodeAddr(m.Host) != "172.31.7.4" || l.spec.Nodes != 4 {
		t.Fatalf("added %+v, spec %+v", m, l.spec)
	}
	if _, err := l.addMember("node-2"); err == nil || !strings.Contains(err.Error(), `already has a node "node-2"`) {
		t.Fatalf("a second node-2: %v", err)
	}
	// A node removed frees its address; the others keep theirs.
	l.spec.Members = []Member{{"node-1", 1}, {"node-3", 3}, {"node-4", 4}}
	m, err = l.addMember("gpu-1")
	if err != nil || m.Host != 2 {
		t.Fatalf("gpu-1: %+v %v", m, err)
	}
	if got, ok := l.member("node-4"); !ok || got.Host != 4 {
		t.Fatalf("node-4 after adding gpu-1: %+v %v", got, ok)
	}
}

func TestAddMemberFull(t *testing.T) {
	l := layout{spec: Spec{Name: "dev", Nodes: maxHost}}
	if _, err := l.addMember("one-more"); err == nil || !strings.Contains(err.Error(), "no free address") {
		t.Fatalf("a node beyond the subnet: %v", err)
	}
}

func TestValidateNodeName(t *testing.T) {
	for _, ok := range []string{"node-4", "a", "gpu1", "abcdefghijklmno"} {
		if err := ValidateNodeName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Node", "-a", "a-", "abcdefghijklmnop", "a_b", "lab", "host", "lab0", "lo", "a/b"} {
		err := ValidateNodeName(bad)
		if err == nil || !strings.Contains(err.Error(), "node name") {
			t.Errorf("%q accepted or unclear: %v", bad, err)
		}
	}
}

// The refusals of add-node and remove-node come before anything is
// touched, so they need neither root nor a running cluster.
func TestAddRemoveNodeRefusals(t *testing.T) {
	roots := Roots{State: t.TempDir(), Run: t.TempDir()}
	l := layout{Roots: roots, spec: Spec{Name: "dev", Nodes: 2, Subnet: 9}}
	if err := l.save(); err != nil {
		t.Fatal(err)
	}
	o := Options{Roots: roots}
	if _, err := AddNode(t.Context(), "dev", "Bad_Name", o); err == nil || !strings.Contains(err.Error(), `node name "Bad_Name"`) {
		t.Errorf("add-node Bad_Name: %v", err)
	}
	if err := RemoveNode(t.Context(), "dev", "node-1", o); err == nil || !strings.Contains(err.Error(), "runs the cluster's server") {
		t.Errorf("remove-node node-1: %v", err)
	}
	if err := RemoveNode(t.Context(), "dev", "node-7", o); err == nil || !strings.Contains(err.Error(), `has no node "node-7"`) {
		t.Errorf("remove-node node-7: %v", err)
	}
	if err := RemoveNode(t.Context(), "nope", "node-2", o); err == nil || !strings.Contains(err.Error(), "no such cluster") {
		t.Errorf("remove-node in a missing cluster: %v", err)
	}
}

// Namespace names join cluster and node with a dash: cluster a's node
// b-lab would be cluster a-b's lab namespace, and its removal would unpin
// it. add-node refuses such a name.
func TestAddMemberRefusesAnotherClustersNamespace(t *testing.T) {
	roots := Roots{State: t.TempDir(), Run: t.TempDir()}
	for _, s := range []Spec{{Name: "a", Nodes: 2, Subnet: 1}, {Name: "a-b", Nodes: 2, Subnet: 2}} {
		if err := (layout{Roots: roots, spec: s}).save(); err != nil {
			t.Fatal(err)
		}
	}
	l, err := load(roots, "a")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"b-lab", "b-node-2"} {
		if _, err := l.addMember(bad); err == nil || !strings.Contains(err.Error(), `cluster "a-b"`) {
			t.Errorf("add %s to cluster a: %v", bad, err)
		}
	}
	if _, err := l.addMember("b-node-3"); err != nil {
		t.Errorf("b-node-3 names no namespace of a-b: %v", err)
	}
}
