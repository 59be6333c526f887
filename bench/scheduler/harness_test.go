package scheduler

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/scheduler"
)

var (
	creators        = flag.Int("creators", 64, "goroutines creating nodes and pods, like scheduler_perf's concurrent clients")
	bindParallelism = flag.Int("bind-parallelism", 0, "the scheduler's BindParallelism (0: its default)")
	precreate       = flag.Bool("precreate", false, "create every pod before the scheduler starts and time from its start: the scheduler's own rate, apart from the API server's create rate")
)

// figures are what one run measured.
type figures struct {
	nodes, pods   int
	elapsed       time.Duration // first pod create → last pod bound
	createElapsed time.Duration // first → last pod create
	podsPerSecond float64
	meanBind      time.Duration // from skiff_scheduler_bind_duration_seconds
}

func (f figures) String() string {
	return fmt.Sprintf("%d nodes, %d pods: %.0f pods/s (all bound in %v; creating took %v; mean Bind %v)",
		f.nodes, f.pods, f.podsPerSecond, f.elapsed.Round(time.Millisecond), f.createElapsed.Round(time.Millisecond),
		f.meanBind.Round(100*time.Microsecond))
}

// schedulingBasic runs one SchedulingBasic round against a fresh API server.
func schedulingBasic(tb testing.TB, nodes, pods int) figures {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	srv := apitest.Start(tb, func(c *apiserver.Config) {
		// A /24 per node: room for 65,536 nodes.
		c.ClusterCIDR = "10.0.0.0/8"
		c.NodeCIDRBits = 24
	})
	c := srv.Client

	parallel(tb, nodes, func(i int) error {
		_, err := c.Nodes().Create(ctx, benchNode(i))
		return err
	})

	// Count bindings from a watch opened before the first create.
	_, rv, err := c.Pods().List(ctx, client.ListOptions{FieldSelector: "metadata.name=none"})
	if err != nil {
		tb.Fatal(err)
	}
	w, err := c.Pods().Watch(ctx, client.ListOptions{}, rv)
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Stop()
	allBound := make(chan time.Time, 1)
	go func() {
		bound := map[string]bool{}
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			if ev.Object != nil && ev.Object.GetSpec().GetNodeName() != "" {
				bound[ev.Object.GetMetadata().GetName()] = true
				if len(bound) == pods {
					allBound <- time.Now()
					return
				}
			}
		}
	}()

	createPods := func() {
		parallel(tb, pods, func(i int) error {
			_, err := c.Pods().Create(ctx, benchPod(i))
			return err
		})
	}
	reg := prometheus.NewRegistry()
	var start, created time.Time
	if *precreate {
		createPods()
		start = time.Now()
		created = start
		startScheduler(tb, ctx, c, reg)
	} else {
		startScheduler(tb, ctx, c, reg)
		start = time.Now()
		createPods()
		created = time.Now()
	}
	var end time.Time
	select {
	case end = <-allBound:
	case <-ctx.Done():
		tb.Fatal("pods not all bound within the time limit")
	}
	f := figures{nodes: nodes, pods: pods, elapsed: end.Sub(start), createElapsed: created.Sub(start)}
	f.podsPerSecond = float64(pods) / f.elapsed.Seconds()
	f.meanBind = meanOf(tb, reg, "skiff_scheduler_bind_duration_seconds")
	checkNoOvercommit(tb, ctx, c)
	return f
}

// startScheduler runs a scheduler until the test ends and waits until it
// has synced.
func startScheduler(tb testing.TB, ctx context.Context, c *client.Client, reg prometheus.Registerer) {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("SKIFF_BENCH_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	s, err := scheduler.New(scheduler.Config{Client: c, Logger: log, Metrics: reg, BindParallelism: *bindParallelism})
	if err != nil {
		tb.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	tb.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			tb.Errorf("scheduler: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case <-ctx.Done():
		tb.Fatal("scheduler never synced")
	}

}

// meanOf is the mean of a histogram in reg.
func meanOf(tb testing.TB, reg *prometheus.Registry, name string) time.Duration {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() > 0 {
				return time.Duration(h.GetSampleSum() / float64(h.GetSampleCount()) * float64(time.Second))
			}
		}
	}
	return 0
}

// parallel runs fn(0..n-1) on the creator goroutines; the first error fails.
func parallel(tb testing.TB, n int, fn func(i int) error) {
	tb.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range *creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		tb.Fatal(first)
	}
}

// benchNode is scheduler_perf's node-default: 4 cpu, 32Gi, 110 pods.
func benchNode(i int) *skiffv1.Node {
	alloc := map[string]string{"cpu": "4", "memory": "32Gi", "pods": "110"}
	return &skiffv1.Node{
		Metadata: &skiffv1.ObjectMeta{Name: fmt.Sprintf("node-%05d", i)},
		Spec:     &skiffv1.NodeSpec{},
		Status: &skiffv1.NodeStatus{
			Capacity: alloc, Allocatable: alloc,
			Conditions: []*skiffv1.Condition{{Type: "Ready", Status: "True"}},
		},
	}
}

// benchPod is scheduler_perf's pod-default: requests 100m cpu, 500Mi.
func benchPod(i int) *skiffv1.Pod {
	return &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Namespace: "default"},
		Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{
			Name: "pause", Image: "registry.k8s.io/pause:3.10",
			Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "100m", "memory": "500Mi"}},
		}}},
	}
}

// checkNoOvercommit is a sanity check that speed did not cost correctness.
func checkNoOvercommit(tb testing.TB, ctx context.Context, c *client.Client) {
	tb.Helper()
	pods, _, err := c.Pods().List(ctx, client.ListOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	perNode := map[string]int{}
	for _, p := range pods {
		perNode[p.GetSpec().GetNodeName()]++
	}
	for n, k := range perNode {
		// 4 cpu / 100m = 40 pods; 32Gi / 500Mi = 65; pods 110.
		if n == "" || k > 40 {
			tb.Fatalf("node %q holds %d pods", n, k)
		}
	}
}
