package controller_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A StatefulSet pod whose local volume lives on a lost node is not moved:
// evicted, it is made again and waits, Pending with a message naming the
// volume and the node, until the node comes back (it goes there again) or
// its claim is deleted (a new claim is made and the pod starts afresh on
// another node). A pod whose claim is shared storage moves at once.
func TestStatefulSetLocalVolumeOnLostNode(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	nodes := startFakeNodes(t, c, "n1", "n2", "n3")
	startScheduler(t, c)
	startManager(t, srv, func(cfg *controller.Config) {
		cfg.NodeGracePeriod = 3 * time.Second
		cfg.PodEvictionTimeout = time.Second
		cfg.NodeMonitorPeriod = 200 * time.Millisecond
		cfg.NodeEvictionInterval = 100 * time.Millisecond
	})
	reapDeleting(t, c)
	set, err := c.StatefulSets().Create(ctx, newSTS("db", 2, func(s *skiffv1.StatefulSetSpec) {
		s.PodManagementPolicy = "Parallel"
		s.VolumeClaimTemplates[0].Spec.Local = &skiffv1.LocalVolumeSource{}
	}))
	if err != nil {
		t.Fatal(err)
	}
	waitPods(t, c, set.GetMetadata().GetUid(), "db-0", "db-1")
	var lost string
	var first *skiffv1.Pod
	waitFor(t, "db-1 bound and data-db-1 pinned to its node", func() (bool, error) {
		p, err := c.Pods().Get(ctx, "default", "db-1")
		if err != nil {
			return false, err
		}
		v, err := c.Volumes().Get(ctx, "default", "data-db-1")
		if err != nil {
			return false, err
		}
		first, lost = p, p.GetSpec().GetNodeName()
		return lost != "" && v.GetSpec().GetLocal().GetNodeName() == lost, fmt.Errorf("db-1 on %q, volume %v", lost, v.GetSpec())
	})
	readyPod(t, c, "db-0")
	readyPod(t, c, "db-1")
	// A set whose claims are shared storage (NFS, ReadWriteMany): its pods
	// are not tied to a node.
	shared, err := c.StatefulSets().Create(ctx, newSTS("files", 3, func(s *skiffv1.StatefulSetSpec) {
		s.PodManagementPolicy = "Parallel"
		s.VolumeClaimTemplates[0].Spec.AccessMode = "ReadWriteMany"
		s.VolumeClaimTemplates[0].Spec.Nfs = &skiffv1.NFSVolumeSource{Server: "10.0.0.1", Path: "/exports"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	sharedOn := func() (map[string]string, error) {
		pods, err := podsOf(ctx, c, shared.GetMetadata().GetUid())
		out := map[string]string{}
		for _, p := range pods {
			if p.GetMetadata().GetDeletionTimestamp() == nil {
				out[p.GetMetadata().GetName()] = p.GetSpec().GetNodeName()
			}
		}
		return out, err
	}
	var sharedOnLost string
	waitFor(t, "the shared set's 3 pods bound, one on "+lost, func() (bool, error) {
		on, err := sharedOn()
		sharedOnLost = ""
		bound := 0
		for name, n := range on {
			if n != "" {
				bound++
			}
			if n == lost {
				sharedOnLost = name
			}
		}
		return bound == 3 && sharedOnLost != "", fmt.Errorf("%v (%v)", on, err)
	})
	oldVol, err := c.Volumes().Get(ctx, "default", "data-db-1")
	if err != nil {
		t.Fatal(err)
	}

	// The node holding db-1's volume falls silent: db-1 is evicted, made
	// again, and waits for that node.
	nodes.set(lost, false)
	waitingMsg := fmt.Sprintf(`local volume "data-db-1" lives on node %q, which is not ready: the pod waits for that node`, lost)
	waitUntilWaiting := func(prev string) *skiffv1.Pod {
		t.Helper()
		var p *skiffv1.Pod
		waitFor(t, "db-1 made again and Pending for its volume's node", func() (bool, error) {
			var err error
			p, err = c.Pods().Get(ctx, "default", "db-1")
			if err != nil {
				return false, err
			}
			cond := skiffv1.FindCondition(p.GetStatus().GetConditions(), "PodScheduled")
			return p.GetMetadata().GetUid() != prev && p.GetSpec().GetNodeName() == "" && cond != nil &&
					cond.GetStatus() == "False" && cond.GetReason() == "Unschedulable" && strings.Contains(cond.GetMessage(), waitingMsg),
				fmt.Errorf("db-1 %s on %q: %v", p.GetMetadata().GetUid(), p.GetSpec().GetNodeName(), cond)
		})
		return p
	}
	waiting := waitUntilWaiting(first.GetMetadata().GetUid())
	// The shared set's pod on the lost node moves.
	waitFor(t, sharedOnLost+" (shared volume) moved off "+lost, func() (bool, error) {
		on, err := sharedOn()
		n := on[sharedOnLost]
		return n != "" && n != lost, fmt.Errorf("%v (%v)", on, err)
	})
	time.Sleep(time.Second) // the other nodes are Ready: it still waits
	if p, err := c.Pods().Get(ctx, "default", "db-1"); err != nil || p.GetSpec().GetNodeName() != "" {
		t.Fatalf("db-1 moved off its volume's node: %v %v", p.GetSpec().GetNodeName(), err)
	}

	// The node returns: db-1 goes back there, to the same volume.
	nodes.set(lost, true)
	waitFor(t, "db-1 back on "+lost, func() (bool, error) {
		p, err := c.Pods().Get(ctx, "default", "db-1")
		return err == nil && p.GetMetadata().GetUid() == waiting.GetMetadata().GetUid() && p.GetSpec().GetNodeName() == lost, err
	})
	if v, err := c.Volumes().Get(ctx, "default", "data-db-1"); err != nil || v.GetMetadata().GetUid() != oldVol.GetMetadata().GetUid() {
		t.Fatalf("data-db-1 after the node came back: %v %v", v.GetMetadata(), err)
	}
	readyPod(t, c, "db-1")
	waitFor(t, lost+" untainted", func() (bool, error) {
		n, err := c.Nodes().Get(ctx, "", lost)
		return err == nil && !hasTaint(n, controller.TaintUnreachable), err
	})

	// Lost again, and this time the claim is deleted: a new, empty claim
	// is made and db-1 starts on another node.
	nodes.set(lost, false)
	waiting = waitUntilWaiting(waiting.GetMetadata().GetUid())
	if _, _, err := c.Volumes().Delete(ctx, "default", "data-db-1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "db-1 on another node with a new data-db-1", func() (bool, error) {
		p, err := c.Pods().Get(ctx, "default", "db-1")
		if err != nil {
			return false, err
		}
		v, err := c.Volumes().Get(ctx, "default", "data-db-1")
		if err != nil {
			return false, err
		}
		node := p.GetSpec().GetNodeName()
		return node != "" && node != lost && v.GetMetadata().GetUid() != oldVol.GetMetadata().GetUid() && v.GetSpec().GetLocal().GetNodeName() == node,
			fmt.Errorf("db-1 on %q, data-db-1 %s pinned to %q", node, v.GetMetadata().GetUid(), v.GetSpec().GetLocal().GetNodeName())
	})
	if p, err := c.Pods().Get(ctx, "default", "db-1"); err != nil || p.GetMetadata().GetUid() != waiting.GetMetadata().GetUid() {
		t.Errorf("db-1 was replaced rather than scheduled once its claim came back: %v", err)
	}
}
