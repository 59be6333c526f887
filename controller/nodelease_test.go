package controller_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/client/nodelease"
	"github.com/skiff-sh/skiff/controller"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// leaseNode is a node whose agent beats as the real one does: it renews
// its Lease and writes the Node's status only when the stored Ready
// condition is not its own.
type leaseNode struct {
	c       *client.Client
	name    string
	renewer *nodelease.Renewer
	mu      sync.Mutex
	beating bool
}

func startLeaseNode(t *testing.T, c *client.Client, name string) *leaseNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	alloc := map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"}
	now := timestamppb.Now()
	n, err := c.Nodes().Create(ctx, &skiffv1.Node{
		Metadata: &skiffv1.ObjectMeta{Name: name},
		Status: &skiffv1.NodeStatus{Capacity: alloc, Allocatable: alloc, Conditions: []*skiffv1.Condition{
			{Type: "Ready", Status: "True", Reason: "AgentReady", LastHeartbeatTime: now, LastTransitionTime: now},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln := &leaseNode{c: c, name: name, renewer: nodelease.New(c, name, n.GetMetadata().GetUid()), beating: true}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			ln.mu.Lock()
			beating := ln.beating
			ln.mu.Unlock()
			if beating {
				ln.beat(ctx)
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ln
}

func (ln *leaseNode) set(beating bool) {
	ln.mu.Lock()
	ln.beating = beating
	ln.mu.Unlock()
}

func (ln *leaseNode) beat(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = ln.renewer.Renew(cctx, time.Now())
	_, _ = ln.c.Nodes().ModifyStatus(cctx, "", ln.name, func(cur *skiffv1.Node) error {
		if r := nodeCondition(cur, "Ready"); r != nil && r.GetStatus() == "True" {
			return client.ErrNoChange
		}
		now := time.Now()
		skiffv1.SetCondition(&cur.Status.Conditions, &skiffv1.Condition{Type: "Ready", Status: "True", Reason: "AgentReady",
			LastHeartbeatTime: timestamppb.New(now)}, now)
		return nil
	})
}

// Nodes that only renew their Leases stay Ready however old their Node's
// heartbeat; one whose Lease stops is marked Unknown and tainted, and is
// untainted once it renews again. A deleted Node's Lease goes with it.
func TestNodeLifecycleFollowsLeases(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	n1 := startLeaseNode(t, c, "n1")
	startLeaseNode(t, c, "n2")
	startManager(t, srv, func(cfg *controller.Config) {
		cfg.NodeGracePeriod = 2 * time.Second
		cfg.PodEvictionTimeout = time.Hour
		cfg.NodeMonitorPeriod = 100 * time.Millisecond
	})
	created := map[string]time.Time{}
	for _, name := range []string{"n1", "n2"} {
		n, err := c.Nodes().Get(ctx, "", name)
		if err != nil {
			t.Fatal(err)
		}
		created[name] = nodeCondition(n, "Ready").GetLastHeartbeatTime().AsTime()
	}
	// Three grace periods on Leases alone.
	time.Sleep(6 * time.Second)
	for _, name := range []string{"n1", "n2"} {
		n, err := c.Nodes().Get(ctx, "", name)
		if err != nil {
			t.Fatal(err)
		}
		r := nodeCondition(n, "Ready")
		if r.GetStatus() != "True" || hasTaint(n, controller.TaintUnreachable) {
			t.Fatalf("%s renews its Lease but is %s (taints %v)", name, r.GetStatus(), n.GetSpec().GetTaints())
		}
		if !r.GetLastHeartbeatTime().AsTime().Equal(created[name]) {
			t.Fatalf("%s's Node status was written again (heartbeat %v, registered %v): the Lease alone should keep it Ready",
				name, r.GetLastHeartbeatTime().AsTime(), created[name])
		}
		l, err := c.Leases().Get(ctx, defaults.NodeLeaseNamespace, name)
		if err != nil {
			t.Fatal(err)
		}
		if l.GetSpec().GetHolderIdentity() != name || time.Since(nodelease.RenewTime(l)) > 2*time.Second {
			t.Fatalf("%s's Lease: holder %q, renewed %v ago", name, l.GetSpec().GetHolderIdentity(), time.Since(nodelease.RenewTime(l)))
		}
	}

	n1.set(false)
	waitFor(t, "n1 Unknown and tainted", func() (bool, error) {
		n, err := c.Nodes().Get(ctx, "", "n1")
		r := nodeCondition(n, "Ready")
		return r != nil && r.GetStatus() == "Unknown" && hasTaint(n, controller.TaintUnreachable), err
	})
	if n, err := c.Nodes().Get(ctx, "", "n2"); err != nil {
		t.Fatal(err)
	} else if hasTaint(n, controller.TaintUnreachable) {
		t.Fatal("n2, renewing its Lease, was tainted")
	}

	n1.set(true)
	waitFor(t, "n1 Ready and untainted", func() (bool, error) {
		n, err := c.Nodes().Get(ctx, "", "n1")
		r := nodeCondition(n, "Ready")
		return r != nil && r.GetStatus() == "True" && !hasTaint(n, controller.TaintUnreachable), err
	})

	n1.set(false)
	if _, _, err := c.Nodes().Delete(ctx, "", "n1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n1's Lease collected with its Node", func() (bool, error) {
		_, err := c.Leases().Get(ctx, defaults.NodeLeaseNamespace, "n1")
		if client.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
