package controller_test

import (
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A node whose heartbeat stops has its ready pods marked Ready=False
// (NodeNotReady), with an event on each; a pod that never was ready and
// the pods of other nodes are left alone. The controller does not set
// Ready back when the node returns: its agent does, and the controller
// leaves that be.
func TestPodsOfSilentNodeMarkedNotReady(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	nodes := startFakeNodes(t, c, "n1", "n2", "n3")
	startManager(t, srv, func(cfg *controller.Config) {
		cfg.NodeGracePeriod = 3 * time.Second
		cfg.PodEvictionTimeout = time.Hour // marked, never evicted here
		cfg.NodeMonitorPeriod = 200 * time.Millisecond
		cfg.NodeEvictionInterval = time.Second
	})
	bind := func(name, node string, ready bool) *skiffv1.Pod {
		t.Helper()
		p, err := c.Pods().Create(ctx, &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"}, Spec: podSpec("10m")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Bind(ctx, "default", name, node, "", ""); err != nil {
			t.Fatal(err)
		}
		if ready {
			if err := setPodState(ctx, c, p, skiffv1.PodRunning, true); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	bind("web-1", "n1", true)
	bind("web-2", "n2", true)
	bind("starting", "n1", false) // no Ready condition yet

	nodes.set("n1", false)
	waitFor(t, "web-1 Ready=False because of its node", func() (bool, error) {
		p, err := c.Pods().Get(ctx, "default", "web-1")
		r := skiffv1.FindCondition(p.GetStatus().GetConditions(), skiffv1.PodReady)
		return r.GetStatus() == skiffv1.ConditionFalse && r.GetReason() == "NodeNotReady" && r.GetMessage() == "Node is not ready", err
	})
	p, err := c.Pods().Get(ctx, "default", "web-1")
	if err != nil {
		t.Fatal(err)
	}
	if p.GetStatus().GetPhase() != skiffv1.PodRunning {
		t.Fatalf("web-1 phase %q: only Ready changes", p.GetStatus().GetPhase())
	}
	n1, err := c.Nodes().Get(ctx, "", "n1")
	if err != nil {
		t.Fatal(err)
	}
	if r := nodeCondition(n1, "Ready"); r.GetStatus() != skiffv1.ConditionUnknown {
		t.Fatalf("web-1 marked while n1 is %v: want only once n1 is Unknown", r)
	}
	waitFor(t, "a NodeNotReady event on web-1", func() (bool, error) {
		evs, _, err := c.Events().List(ctx, client.ListOptions{Namespace: "default"})
		for _, e := range evs {
			if e.GetInvolvedObject().GetKind() == "Pod" && e.GetInvolvedObject().GetName() == "web-1" &&
				e.GetReason() == "NodeNotReady" && e.GetType() == "Warning" && e.GetMessage() == "Node is not ready" {
				return true, err
			}
		}
		return false, err
	})
	if p, err := c.Pods().Get(ctx, "default", "web-2"); err != nil || !skiffv1.IsPodReady(p) {
		t.Fatalf("web-2, on a beating node: ready %v, err %v", skiffv1.IsPodReady(p), err)
	}
	if p, err := c.Pods().Get(ctx, "default", "starting"); err != nil || skiffv1.FindCondition(p.GetStatus().GetConditions(), skiffv1.PodReady) != nil {
		t.Fatalf("starting, never ready: %v, err %v; want no Ready condition", p.GetStatus(), err)
	}
	// A pod bound to the node while it is silent is marked too.
	bind("late", "n1", true)
	waitFor(t, "late, bound to silent n1, Ready=False", func() (bool, error) {
		p, err := c.Pods().Get(ctx, "default", "late")
		r := skiffv1.FindCondition(p.GetStatus().GetConditions(), skiffv1.PodReady)
		return r.GetStatus() == skiffv1.ConditionFalse && r.GetReason() == "NodeNotReady", err
	})

	// n1 comes back and its agent posts the real status: it stays.
	nodes.set("n1", true)
	waitFor(t, "n1 Ready and untainted", func() (bool, error) {
		n, err := c.Nodes().Get(ctx, "", "n1")
		r := nodeCondition(n, "Ready")
		return r != nil && r.GetStatus() == "True" && !hasTaint(n, controller.TaintUnreachable), err
	})
	if err := setPodState(ctx, c, p, skiffv1.PodRunning, true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // several monitor periods
	if p, err := c.Pods().Get(ctx, "default", "web-1"); err != nil || !skiffv1.IsPodReady(p) {
		t.Fatalf("web-1 after its node came back and its agent set Ready: ready %v, err %v", skiffv1.IsPodReady(p), err)
	}
}
