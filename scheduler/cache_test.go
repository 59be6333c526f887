package scheduler

import (
	"testing"

	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestCacheAssumeConfirmForget(t *testing.T) {
	c := newCache()
	c.setNode(testNode("n1", "2", "2Gi"))
	pi := NewPodInfo(testPod("p", "1", "1Gi", usingVolume("data")))

	c.mu.Lock()
	c.assumeLocked(pi, "n1")
	c.mu.Unlock()
	if got := c.nodes["n1"].Requested.MilliCPU; got != 1000 {
		t.Fatalf("assumed pod not counted: %d", got)
	}
	if nodes := c.volumeNodesLocked("default/data"); len(nodes) != 1 || nodes[0] != "n1" {
		t.Fatalf("volume use %v", nodes)
	}

	// The informer confirms the bind: still counted once, no longer assumed.
	c.setPod(testPod("p", "1", "1Gi", usingVolume("data"), onNode("n1")))
	if node, assumed, ok := c.nodeOf("default/p"); !ok || assumed || node != "n1" {
		t.Fatalf("after confirm: %s %v %v", node, assumed, ok)
	}
	if got := c.nodes["n1"].Requested.MilliCPU; got != 1000 {
		t.Fatalf("confirmed pod counted %d", got)
	}
	// Forgetting a confirmed pod does nothing.
	c.forget(pi)
	if _, _, ok := c.nodeOf("default/p"); !ok {
		t.Fatal("forget dropped a bound pod")
	}

	q := NewPodInfo(testPod("q", "1", ""))
	c.mu.Lock()
	c.assumeLocked(q, "n1")
	c.mu.Unlock()
	c.forget(q)
	if got := c.nodes["n1"].Requested.MilliCPU; got != 1000 {
		t.Fatalf("forgotten pod still counted: %d", got)
	}
}

func TestCacheTerminalAndDeletedPodsFreeRoom(t *testing.T) {
	c := newCache()
	c.setNode(testNode("n1", "2", "2Gi"))
	c.setPod(testPod("p", "1", "", onNode("n1")))
	done := testPod("p", "1", "", onNode("n1"))
	done.Status.Phase = "Succeeded"
	if freed, _ := c.setPod(done); !freed {
		t.Fatal("a finished pod did not free room")
	}
	if c.nodes["n1"].Requested.MilliCPU != 0 {
		t.Fatal("finished pod still counted")
	}
	c.setPod(testPod("q", "1", "", onNode("n1")))
	if !c.removePod("default/q") || c.nodes["n1"].Requested.Pods != 0 {
		t.Fatal("deleted pod still counted")
	}
}

func TestCacheNodesComeAndGo(t *testing.T) {
	c := newCache()
	for _, n := range []string{"a", "b", "c"} {
		c.setNode(testNode(n, "1", "1Gi"))
	}
	c.setPod(testPod("p", "500m", "", onNode("b")))
	c.removeNode("a")
	if len(c.list) != 2 {
		t.Fatalf("list %d", len(c.list))
	}
	for i, ni := range c.list {
		if ni.index != i {
			t.Fatalf("index of %s is %d at %d", ni.Name, ni.index, i)
		}
	}
	c.removeNode("b")
	// b's pod keeps b's NodeInfo around; when b comes back it is not empty.
	c.setNode(testNode("b", "1", "1Gi"))
	if c.nodes["b"].Requested.MilliCPU != 500 {
		t.Fatal("returning node lost its pods")
	}
	// A pod bound to a node the cache does not know yet is kept.
	c.setPod(testPod("q", "1", "", onNode("later")))
	c.setNode(testNode("later", "4", "1Gi"))
	if c.nodes["later"].Requested.MilliCPU != 1000 || len(c.list) != 3 {
		t.Fatal("pod bound before its node was seen was lost")
	}
}

// The label indexes follow a bound pod's relabelling and removal, and
// leave nothing behind.
func TestCacheLabelIndexes(t *testing.T) {
	c := newCache()
	c.setNode(testNode("n1", "4", "8Gi"))
	p := testPod("p", "", "", labelled("app", "a"), onNode("n1"), requiredAnti(term(host, map[string]string{"app": "a"})))
	c.setPod(p)
	if len(c.byLabel["app=a"]) != 1 || len(c.byTermLabel["app=a"]) != 1 {
		t.Fatalf("indexes after add: %v / %v", c.byLabel, c.byTermLabel)
	}
	relabelled := testPod("p", "", "", labelled("app", "b"), onNode("n1"), requiredAnti(term(host, map[string]string{"app": "a"})))
	c.setPod(relabelled)
	if c.byLabel["app=a"] != nil || len(c.byLabel["app=b"]) != 1 {
		t.Fatalf("label index after relabel: %v", c.byLabel)
	}
	var visited []string
	cacheCluster{c: c}.EachPodMaybeMatching(labelsOf(t, "app", "b"), func(pi *PodInfo, _ *NodeInfo) { visited = append(visited, pi.Key) })
	if len(visited) != 1 || visited[0] != "default/p" {
		t.Fatalf("visited %v", visited)
	}
	c.removePod("default/p")
	if len(c.byLabel) != 0 || len(c.byTermLabel) != 0 || len(c.termsUnindexed) != 0 {
		t.Fatalf("indexes after remove: %v / %v / %v", c.byLabel, c.byTermLabel, c.termsUnindexed)
	}
}

func labelsOf(t *testing.T, k, v string) labels.Selector {
	t.Helper()
	sel, err := labels.FromLabelSelector(&skiffv1.LabelSelector{MatchLabels: map[string]string{k: v}})
	if err != nil {
		t.Fatal(err)
	}
	return sel
}
