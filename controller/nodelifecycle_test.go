package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/scheduler"
)

func startScheduler(t *testing.T, c *client.Client) {
	t.Helper()
	s, err := scheduler.New(scheduler.Config{Client: c, Logger: testLogger(), Metrics: prometheus.NewRegistry(),
		InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, UnschedulableTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler: %v", err)
		}
	})
}

func TestNodeLifecycle(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	nodes := startFakeNodes(t, c, "n1", "n2", "n3")
	startScheduler(t, c)
	startManager(t, srv, func(cfg *controller.Config) {
		// Fake nodes beat every 200ms; the grace leaves room for a loaded
		// machine (and -race) to delay a few beats of n2 and n3.
		cfg.NodeGracePeriod = 5 * time.Second
		cfg.PodEvictionTimeout = 3 * time.Second
		cfg.NodeMonitorPeriod = 200 * time.Millisecond
		cfg.NodeEvictionInterval = time.Second
	})
	rs, err := c.ReplicaSets().Create(ctx, newRS("web", 6, "web"))
	if err != nil {
		t.Fatal(err)
	}
	uid := rs.GetMetadata().GetUid()
	onNode := func(node string) (int, int, error) {
		pods, err := podsOf(ctx, c, uid)
		n := 0
		for _, p := range pods {
			if p.GetSpec().GetNodeName() == node {
				n++
			}
		}
		return n, len(pods), err
	}
	// The scheduler spreads; wait until n1 holds some.
	waitFor(t, "6 pods bound, some on n1", func() (bool, error) {
		pods, err := podsOf(ctx, c, uid)
		bound := 0
		for _, p := range pods {
			if p.GetSpec().GetNodeName() != "" {
				bound++
			}
		}
		on1, _, _ := onNode("n1")
		return bound == 6 && on1 > 0, err
	})

	// n1's agent dies.
	nodes.set("n1", false)
	waitFor(t, "n1 Unknown and tainted", func() (bool, error) {
		n, err := c.Nodes().Get(ctx, "", "n1")
		r := nodeCondition(n, "Ready")
		return r != nil && r.GetStatus() == "Unknown" && r.GetReason() == "NodeStatusUnknown" &&
			hasTaint(n, controller.TaintUnreachable), err
	})
	for _, other := range []string{"n2", "n3"} {
		if n, err := c.Nodes().Get(ctx, "", other); err != nil {
			t.Fatal(err)
		} else if hasTaint(n, controller.TaintUnreachable) {
			t.Fatalf("%s, still beating, was tainted", other)
		}
	}
	waitFor(t, "n1's pods evicted and recreated on n2/n3", func() (bool, error) {
		on1, total, err := onNode("n1")
		if err != nil || on1 != 0 || total != 6 {
			return false, err
		}
		pods, err := podsOf(ctx, c, uid)
		for _, p := range pods {
			if p.GetSpec().GetNodeName() == "" {
				return false, err
			}
		}
		return true, err
	})

	// n1 comes back.
	nodes.set("n1", true)
	waitFor(t, "n1 Ready and untainted", func() (bool, error) {
		n, err := c.Nodes().Get(ctx, "", "n1")
		r := nodeCondition(n, "Ready")
		return r != nil && r.GetStatus() == "True" && !hasTaint(n, controller.TaintUnreachable), err
	})
}

// When most nodes fall silent at once the controller is probably the one
// cut off: it marks them, but evicts nothing.
func TestNoEvictionWhenMostNodesAreUnreachable(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	nodes := startFakeNodes(t, c, "n1", "n2", "n3")
	startManager(t, srv, func(cfg *controller.Config) {
		cfg.NodeGracePeriod = time.Second
		cfg.PodEvictionTimeout = time.Second
		cfg.NodeMonitorPeriod = 100 * time.Millisecond
		cfg.NodeEvictionInterval = 100 * time.Millisecond
	})
	for _, n := range []string{"n1", "n2"} {
		pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "p-" + n, Namespace: "default"}, Spec: podSpec("10m")}
		if _, err := c.Pods().Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Bind(ctx, "default", "p-"+n, n, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	nodes.set("n1", false)
	nodes.set("n2", false)
	waitFor(t, "n1 and n2 tainted", func() (bool, error) {
		for _, name := range []string{"n1", "n2"} {
			n, err := c.Nodes().Get(ctx, "", name)
			if err != nil || !hasTaint(n, controller.TaintUnreachable) {
				return false, err
			}
		}
		return true, nil
	})
	// Several eviction timeouts pass: nothing goes.
	time.Sleep(4 * time.Second)
	pods, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 2 {
		t.Fatalf("%d pods left, want both: no eviction while 2 of 3 nodes are unreachable", len(pods))
	}
	// One node comes back: now only a third is unreachable, and the
	// other's pod goes.
	nodes.set("n1", true)
	waitFor(t, "n2's pod evicted once most nodes are back", func() (bool, error) {
		_, err := c.Pods().Get(ctx, "default", "p-n2")
		return client.IsNotFound(err), nil
	})
	if _, err := c.Pods().Get(ctx, "default", "p-n1"); err != nil {
		t.Fatalf("n1's pod: %v (n1 came back before eviction)", err)
	}
}
