package controller_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newDS(name string, mutate func(*skiffv1.DaemonSetSpec)) *skiffv1.DaemonSet {
	ds := &skiffv1.DaemonSet{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &skiffv1.DaemonSetSpec{
			Selector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: &skiffv1.PodTemplateSpec{
				Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:     podSpec("100m"),
			},
		},
	}
	if mutate != nil {
		mutate(ds.Spec)
	}
	return ds
}

// daemonPodNodes maps each node to the names of the DaemonSet's active
// pods bound there ("" for pods not yet bound).
func daemonPodNodes(ctx context.Context, c *client.Client, uid string) (map[string][]string, error) {
	pods, err := podsOf(ctx, c, uid)
	out := map[string][]string{}
	for _, p := range pods {
		if running(p) {
			out[p.GetSpec().GetNodeName()] = append(out[p.GetSpec().GetNodeName()], p.GetMetadata().GetName())
		}
	}
	return out, err
}

// onNodes waits until the DaemonSet has exactly one bound pod on each of
// want and none elsewhere.
func onNodes(t *testing.T, c *client.Client, uid string, want ...string) {
	t.Helper()
	ctx := ctxT(t)
	sort.Strings(want)
	waitFor(t, fmt.Sprintf("one daemon pod on each of %v", want), func() (bool, error) {
		got, err := daemonPodNodes(ctx, c, uid)
		if err != nil {
			return false, err
		}
		var nodes []string
		for n, ps := range got {
			if len(ps) != 1 {
				return false, fmt.Errorf("node %q has pods %v", n, ps)
			}
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		return slices.Equal(nodes, want), fmt.Errorf("pods on %v", got)
	})
}

func TestDaemonSetFollowsNodes(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1", "n2", "n3")
	startScheduler(t, c)
	startManager(t, srv)

	ds, err := c.DaemonSets().Create(ctx, newDS("agent", nil))
	if err != nil {
		t.Fatal(err)
	}
	uid := ds.GetMetadata().GetUid()
	onNodes(t, c, uid, "n1", "n2", "n3")

	// Every pod carries the revision hash and Kubernetes' tolerations.
	pods, _ := podsOf(ctx, c, uid)
	for _, p := range pods {
		if p.GetMetadata().GetLabels()["controller-revision-hash"] == "" {
			t.Errorf("pod %s has no controller-revision-hash label", p.GetMetadata().GetName())
		}
		if !p.GetSpec().ToleratesUnschedulable() {
			t.Errorf("pod %s does not tolerate a cordon", p.GetMetadata().GetName())
		}
	}

	// A node that joins gets a pod; a cordoned one keeps (and gets) its pod.
	startFakeNodes(t, c, "n4")
	onNodes(t, c, uid, "n1", "n2", "n3", "n4")
	if _, err := c.Nodes().Modify(ctx, "", "n4", func(n *skiffv1.Node) error { n.Spec.Unschedulable = true; return nil }); err != nil {
		t.Fatal(err)
	}
	// A NoSchedule taint the pods do not tolerate: no new pod, the old stays.
	// A NoExecute one: the pod goes.
	taint := func(node, effect string) {
		t.Helper()
		if _, err := c.Nodes().Modify(ctx, "", node, func(n *skiffv1.Node) error {
			n.Spec.Taints = append(n.Spec.Taints, &skiffv1.Taint{Key: "dedicated", Value: "db", Effect: effect})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	taint("n2", "NoSchedule")
	taint("n3", "NoExecute")
	onNodes(t, c, uid, "n1", "n2", "n4")

	// A node that leaves loses its pod (the collector or this controller).
	if _, _, err := c.Nodes().Delete(ctx, "", "n1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	onNodes(t, c, uid, "n2", "n4")

	// Status counts nodes as Kubernetes does.
	for _, p := range mustPods(t, c, uid) {
		if err := setPodState(ctx, c, p, "Running", true); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "status desired 2, current 2, ready 2, available 2, updated 2", func() (bool, error) {
		got, err := c.DaemonSets().Get(ctx, "default", "agent")
		st := got.GetStatus()
		return st.GetDesiredNumberScheduled() == 2 && st.GetCurrentNumberScheduled() == 2 && st.GetNumberReady() == 2 &&
			st.GetNumberAvailable() == 2 && st.GetUpdatedNumberScheduled() == 2 && st.GetNumberMisscheduled() == 0, fmt.Errorf("%v (%v)", st, err)
	})
}

func mustPods(t *testing.T, c *client.Client, uid string) []*skiffv1.Pod {
	t.Helper()
	pods, err := podsOf(ctxT(t), c, uid)
	if err != nil {
		t.Fatal(err)
	}
	return pods
}

func TestDaemonSetNodeSelectorAndFit(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1", "n2")
	startScheduler(t, c)
	startManager(t, srv)
	if _, err := c.Nodes().Modify(ctx, "", "n2", func(n *skiffv1.Node) error {
		n.Metadata.Labels = map[string]string{"disk": "ssd"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ds, err := c.DaemonSets().Create(ctx, newDS("ssd", func(s *skiffv1.DaemonSetSpec) {
		s.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	onNodes(t, c, ds.GetMetadata().GetUid(), "n2")

	// Resource fit is the scheduler's: a pod that asks more than a node
	// has stays pending, pinned to its node, never bound.
	big, err := c.DaemonSets().Create(ctx, newDS("big", func(s *skiffv1.DaemonSetSpec) {
		s.Template.Spec = podSpec("64")
	}))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two pending pods of the big daemon set", func() (bool, error) {
		got, err := daemonPodNodes(ctx, c, big.GetMetadata().GetUid())
		return len(got) == 1 && len(got[""]) == 2, fmt.Errorf("%v (%v)", got, err)
	})
	waitFor(t, "desired 2, current 2, ready 0", func() (bool, error) {
		got, err := c.DaemonSets().Get(ctx, "default", "big")
		st := got.GetStatus()
		return st.GetDesiredNumberScheduled() == 2 && st.GetCurrentNumberScheduled() == 2 && st.GetNumberReady() == 0, fmt.Errorf("%v (%v)", st, err)
	})
}

// readyAll plays the nodes' agents: every bound pod of uid turns Running
// and Ready, until the test ends.
func readyAll(t *testing.T, c *client.Client, uid string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			pods, _ := podsOf(ctx, c, uid)
			for _, p := range pods {
				if p.GetSpec().GetNodeName() != "" && !hasReady(p) {
					setPodState(ctx, c, p, "Running", true)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func TestDaemonSetRollingUpdate(t *testing.T) {
	for _, tc := range []struct {
		name            string
		surge, unavail  string
		maxPodsOnANode  int
		maxNodesWithout int
	}{
		{"maxUnavailable", "0", "1", 1, 1},
		{"maxSurge", "1", "0", 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := apitest.Start(t)
			c := srv.Client
			ctx := ctxT(t)
			startFakeNodes(t, c, "n1", "n2", "n3")
			startScheduler(t, c)
			startManager(t, srv)
			ds, err := c.DaemonSets().Create(ctx, newDS("agent", func(s *skiffv1.DaemonSetSpec) {
				s.UpdateStrategy = &skiffv1.DaemonSetUpdateStrategy{Type: "RollingUpdate",
					RollingUpdate: &skiffv1.RollingUpdateDaemonSet{MaxSurge: tc.surge, MaxUnavailable: tc.unavail}}
			}))
			if err != nil {
				t.Fatal(err)
			}
			uid := ds.GetMetadata().GetUid()
			readyAll(t, c, uid)
			onNodes(t, c, uid, "n1", "n2", "n3")
			waitFor(t, "3 available", func() (bool, error) {
				got, err := c.DaemonSets().Get(ctx, "default", "agent")
				return got.GetStatus().GetNumberAvailable() == 3, err
			})
			old := mustPods(t, c, uid)[0].GetMetadata().GetLabels()["controller-revision-hash"]
			if _, err := c.DaemonSets().Modify(ctx, "default", "agent", func(d *skiffv1.DaemonSet) error {
				d.Spec.Template.Spec.Containers[0].Image = "busybox:1.37"
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			// Sample while it rolls: the strategy's bounds hold throughout.
			end := time.Now().Add(deadline)
			for {
				pods := mustPods(t, c, uid)
				perNode := map[string]int{}
				ready := map[string]bool{}
				updated := 0
				for _, p := range pods {
					n := p.GetSpec().GetNodeName()
					if n == "" {
						n = "pending"
					}
					perNode[n]++
					if hasReady(p) {
						ready[n] = true
					}
					if p.GetMetadata().GetLabels()["controller-revision-hash"] != old && hasReady(p) {
						updated++
					}
				}
				without := 0
				for _, n := range []string{"n1", "n2", "n3"} {
					if !ready[n] {
						without++
					}
					if perNode[n] > tc.maxPodsOnANode {
						t.Fatalf("node %s has %d pods", n, perNode[n])
					}
				}
				if without > tc.maxNodesWithout {
					t.Fatalf("%d nodes without a ready daemon pod (max %d)", without, tc.maxNodesWithout)
				}
				if updated == 3 && len(pods) == 3 {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("update did not finish: %d updated of %d pods", updated, len(pods))
				}
				time.Sleep(20 * time.Millisecond)
			}
			waitFor(t, "3 updated in status", func() (bool, error) {
				got, err := c.DaemonSets().Get(ctx, "default", "agent")
				return got.GetStatus().GetUpdatedNumberScheduled() == 3 && got.GetStatus().GetNumberAvailable() == 3, err
			})
		})
	}
}

func TestDaemonSetOnDelete(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startFakeNodes(t, c, "n1", "n2")
	startScheduler(t, c)
	startManager(t, srv)
	ds, err := c.DaemonSets().Create(ctx, newDS("agent", func(s *skiffv1.DaemonSetSpec) {
		s.UpdateStrategy = &skiffv1.DaemonSetUpdateStrategy{Type: "OnDelete"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	uid := ds.GetMetadata().GetUid()
	onNodes(t, c, uid, "n1", "n2")
	before := mustPods(t, c, uid)
	if _, err := c.DaemonSets().Modify(ctx, "default", "agent", func(d *skiffv1.DaemonSet) error {
		d.Spec.Template.Spec.Containers[0].Image = "busybox:1.37"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "status: 0 updated", func() (bool, error) {
		got, err := c.DaemonSets().Get(ctx, "default", "agent")
		return got.GetStatus().GetObservedGeneration() == 2 && got.GetStatus().GetUpdatedNumberScheduled() == 0, err
	})
	if now := mustPods(t, c, uid); len(now) != 2 || !sameNames(now, before) {
		t.Fatalf("OnDelete replaced pods by itself: %d pods", len(now))
	}
	victim := before[0]
	if _, _, err := c.Pods().Delete(ctx, "default", victim.GetMetadata().GetName(), client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted pod replaced at the new template", func() (bool, error) {
		for _, p := range mustPods(t, c, uid) {
			if p.GetSpec().GetNodeName() == victim.GetSpec().GetNodeName() && p.GetSpec().GetContainers()[0].GetImage() == "busybox:1.37" {
				return true, nil
			}
		}
		return false, nil
	})
}

func sameNames(a, b []*skiffv1.Pod) bool {
	var x, y []string
	for _, p := range a {
		x = append(x, p.GetMetadata().GetName())
	}
	for _, p := range b {
		y = append(y, p.GetMetadata().GetName())
	}
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(x, y)
}
