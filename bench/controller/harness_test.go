package controller

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/scheduler"
)

var (
	podsFlag  = flag.Int("pods", 1000, "replicas to scale to")
	nodesFlag = flag.Int("nodes", 50, "fake nodes (4 cpu each; pods request 100m, so 40 fit per node)")
)

// figures are what one run measured, from the scale-up write.
type figures struct {
	pods, nodes   int
	allCreated    time.Duration
	allBound      time.Duration
	createPerSec  float64
	bindPerSec    float64
	reconciles    float64
	meanReconcile time.Duration
}

func (f figures) String() string {
	return fmt.Sprintf("%d pods on %d nodes: all created in %v (%.0f pods/s), all bound in %v (%.0f pods/s); %v replicaset reconciles, mean %v",
		f.pods, f.nodes, f.allCreated.Round(time.Millisecond), f.createPerSec, f.allBound.Round(time.Millisecond), f.bindPerSec,
		f.reconciles, f.meanReconcile.Round(10*time.Microsecond))
}

func logger() *slog.Logger {
	if os.Getenv("SKIFF_BENCH_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func scaleUp(tb testing.TB, pods, nodes int) figures {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	srv := apitest.Start(tb, func(c *apiserver.Config) { c.ClusterCIDR = "10.0.0.0/8" })
	c := srv.Client

	var wg sync.WaitGroup
	errs := make(chan error, nodes)
	for i := 0; i < nodes; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Nodes().Create(ctx, fakeNode(i)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}

	run := func(name string, fn func(context.Context) error) {
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- fn(rctx) }()
		tb.Cleanup(func() {
			stop()
			if err := <-done; err != nil {
				tb.Errorf("%s: %v", name, err)
			}
		})
	}
	s, err := scheduler.New(scheduler.Config{Client: c, Logger: logger(), Metrics: prometheus.NewRegistry()})
	if err != nil {
		tb.Fatal(err)
	}
	run("scheduler", s.Run)
	reg := prometheus.NewRegistry()
	m, err := controller.New(controller.Config{Client: c, Logger: logger(), Metrics: reg,
		// No heartbeats here: keep node lifecycle out of the way.
		NodeGracePeriod: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	run("controller", m.Run)

	rs, err := c.ReplicaSets().Create(ctx, benchRS(0))
	if err != nil {
		tb.Fatal(err)
	}
	// Count creations and bindings from a watch opened before the scale-up.
	_, rv, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		tb.Fatal(err)
	}
	w, err := c.Pods().Watch(ctx, client.ListOptions{Namespace: "default"}, rv)
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Stop()
	created, bound := make(chan time.Time, 1), make(chan time.Time, 1)
	go func() {
		seen, onNode := map[string]bool{}, map[string]bool{}
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			if ev.Object == nil || ev.Type == skiffv1.WatchEvent_DELETED {
				continue
			}
			name := ev.Object.GetMetadata().GetName()
			if !seen[name] {
				seen[name] = true
				if len(seen) == pods {
					created <- time.Now()
				}
			}
			if ev.Object.GetSpec().GetNodeName() != "" && !onNode[name] {
				onNode[name] = true
				if len(onNode) == pods {
					bound <- time.Now()
					return
				}
			}
		}
	}()

	start := time.Now()
	if _, err := c.ReplicaSets().Modify(ctx, "default", rs.GetMetadata().GetName(), func(r *skiffv1.ReplicaSet) error {
		r.Spec.Replicas = proto.Int32(int32(pods))
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	f := figures{pods: pods, nodes: nodes}
	for _, ch := range []struct {
		c   chan time.Time
		out *time.Duration
	}{{created, &f.allCreated}, {bound, &f.allBound}} {
		select {
		case at := <-ch.c:
			*ch.out = at.Sub(start)
		case <-ctx.Done():
			tb.Fatal("pods not all created and bound within the time limit")
		}
	}
	f.createPerSec = float64(pods) / f.allCreated.Seconds()
	f.bindPerSec = float64(pods) / f.allBound.Seconds()
	f.reconciles, f.meanReconcile = reconcileStats(tb, reg)

	// Exactly N: the expectations kept the controller from creating twice.
	all, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		tb.Fatal(err)
	}
	if len(all) != pods {
		tb.Fatalf("%d pods exist, want %d", len(all), pods)
	}
	return f
}

func reconcileStats(tb testing.TB, reg *prometheus.Registry) (float64, time.Duration) {
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "skiff_controller_reconcile_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == "replicaset" {
					h := m.GetHistogram()
					if h.GetSampleCount() == 0 {
						return 0, 0
					}
					return float64(h.GetSampleCount()), time.Duration(h.GetSampleSum() / float64(h.GetSampleCount()) * float64(time.Second))
				}
			}
		}
	}
	return 0, 0
}

func fakeNode(i int) *skiffv1.Node {
	alloc := map[string]string{"cpu": "4", "memory": "32Gi", "pods": "110"}
	return &skiffv1.Node{
		Metadata: &skiffv1.ObjectMeta{Name: fmt.Sprintf("node-%04d", i)},
		Spec:     &skiffv1.NodeSpec{},
		Status: &skiffv1.NodeStatus{
			Capacity: alloc, Allocatable: alloc,
			Conditions: []*skiffv1.Condition{{Type: "Ready", Status: "True"}},
		},
	}
}

func benchRS(replicas int32) *skiffv1.ReplicaSet {
	return &skiffv1.ReplicaSet{
		Metadata: &skiffv1.ObjectMeta{Name: "bench", Namespace: "default"},
		Spec: &skiffv1.ReplicaSetSpec{
			Replicas: proto.Int32(replicas),
			Selector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": "bench"}},
			Template: &skiffv1.PodTemplateSpec{
				Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "bench"}},
				Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{
					Name: "pause", Image: "registry.k8s.io/pause:3.10",
					Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": "100m", "memory": "500Mi"}},
				}}},
			},
		},
	}
}

func BenchmarkReplicaSetScaleUp(b *testing.B) {
	for i := 0; i < b.N; i++ {
		f := scaleUp(b, *podsFlag, *nodesFlag)
		b.ReportMetric(f.createPerSec, "creates/s")
		b.ReportMetric(f.bindPerSec, "bound/s")
		b.Logf("%v", f)
	}
}

func TestSmoke(t *testing.T) {
	f := scaleUp(t, 50, 3)
	t.Logf("%v", f)
}
