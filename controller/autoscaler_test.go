package controller_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// An autoscaler end to end, with the usage a test-driven "agent" reports:
// a fixed total CPU load shared by the ready pods of the target.
func TestAutoscalerScalesUpUnderLoadAndBackDown(t *testing.T) {
	srv, usage, reg := startAutoscaling(t)
	c := srv.Client
	ctx := ctxT(t)

	rs, err := c.ReplicaSets().Create(ctx, newRS("burn", 1, "burn")) // 100m requested per pod
	if err != nil {
		t.Fatal(err)
	}
	uid := rs.GetMetadata().GetUid()
	if _, err := c.Autoscalers().Create(ctx, &skiffv1.Autoscaler{
		Metadata: &skiffv1.ObjectMeta{Name: "burn", Namespace: "default"},
		Spec: &skiffv1.AutoscalerSpec{Target: "burn", MinReplicas: proto.Int32(1), MaxReplicas: 6,
			TargetCpuUtilizationPercent: proto.Int32(50)},
	}); err != nil {
		t.Fatal(err)
	}

	// The fake agent: every pod of the set runs and is ready; the load
	// (millicores in all) is split among them.
	var loadMilli atomic.Int64
	loadMilli.Store(300) // 300m over 100m requested per pod at a 50% target: 6 pods
	fakeAgent(t, ctx, c, usage, uid, func(pods int) *skiffv1.ResourceUsage {
		return &skiffv1.ResourceUsage{CpuCores: float64(loadMilli.Load()) / 1000 / float64(pods), MemoryWorkingSetBytes: 10 << 20}
	})

	replicas := func() int32 {
		rs, err := c.ReplicaSets().Get(ctx, "default", "burn")
		if err != nil {
			t.Fatal(err)
		}
		return rs.GetSpec().GetReplicas()
	}
	waitFor(t, "scale-up to at least 3 under load", func() (bool, error) { return replicas() >= 3, nil })
	waitFor(t, "status reports the rescale", func() (bool, error) {
		a, err := c.Autoscalers().Get(ctx, "default", "burn")
		st := a.GetStatus()
		return st.GetCurrentReplicas() >= 3 && st.GetLastScaleTime() != nil && st.CurrentCpuUtilizationPercent != nil &&
			st.GetObservedGeneration() == a.GetMetadata().GetGeneration(), err
	})
	a, _ := c.Autoscalers().Get(ctx, "default", "burn")
	for _, typ := range []string{"AbleToScale", "ScalingActive", "ScalingLimited"} {
		if findCond(a.GetStatus().GetConditions(), typ) == nil {
			t.Errorf("status lacks the %s condition: %v", typ, a.GetStatus().GetConditions())
		}
	}
	if c := findCond(a.GetStatus().GetConditions(), "ScalingActive"); c != nil && (c.GetStatus() != "True" || c.GetReason() != "ValidMetricFound") {
		t.Errorf("ScalingActive = %s/%s, want True/ValidMetricFound", c.GetStatus(), c.GetReason())
	}
	if v, ok := gaugeValue(t, reg, "skiff_autoscaler_current_replicas", map[string]string{"namespace": "default", "name": "burn"}); !ok || v < 1 {
		t.Errorf("skiff_autoscaler_current_replicas = %v, %v", v, ok)
	}
	if _, ok := gaugeValue(t, reg, "skiff_autoscaler_cpu_utilization_percent", map[string]string{"namespace": "default", "name": "burn"}); !ok {
		t.Error("skiff_autoscaler_cpu_utilization_percent missing")
	}
	events, _, err := c.Events().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	rescales := 0
	for _, e := range events {
		if e.GetReason() == "SuccessfulRescale" && e.GetInvolvedObject().GetName() == "burn" {
			rescales++
		}
	}
	if rescales == 0 {
		t.Error("no SuccessfulRescale event")
	}

	// The load stops: after the stabilization window, back to the minimum.
	loadMilli.Store(0)
	waitFor(t, "scale-down to 1 after the load stops", func() (bool, error) { return replicas() == 1, nil })
	waitFor(t, "the pods follow", func() (bool, error) {
		pods, err := podsOf(ctx, c, uid)
		return len(pods) == 1, err
	})
}

// startAutoscaling starts an API server with the usage service and the
// controllers, autoscalers syncing every 300ms with a 3s scale-down window.
func startAutoscaling(t *testing.T) (*apitest.Server, *apiserver.UsageService, *prometheus.Registry) {
	usage := apiserver.NewUsageService(time.Minute)
	srv := apitest.Start(t, func(cfg *apiserver.Config) {
		cfg.RegisterServices = func(g *grpc.Server) { usage.Register(g) }
	})
	reg := startManager(t, srv, func(cfg *controller.Config) {
		cfg.AutoscalerSyncPeriod = 300 * time.Millisecond
		cfg.ScaleDownWindow = 3 * time.Second
	})
	return srv, usage, reg
}

// fakeAgent runs and readies every pod of the replica set uid and reports
// for each the usage use gives for the number of its pods, until the test
// ends.
func fakeAgent(t *testing.T, ctx context.Context, c *client.Client, usage *apiserver.UsageService, uid string, use func(pods int) *skiffv1.ResourceUsage) {
	agentCtx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		for agentCtx.Err() == nil {
			pods, err := podsOf(agentCtx, c, uid)
			if err == nil && len(pods) > 0 {
				report := &skiffv1.UsageReport{Node: "fake", NodeUsage: &skiffv1.ResourceUsage{}}
				for _, p := range pods {
					setPodState(agentCtx, c, p, "Running", true)
					report.Pods = append(report.Pods, &skiffv1.PodUsage{
						Namespace: "default", Name: p.GetMetadata().GetName(), Uid: p.GetMetadata().GetUid(),
						Usage: use(len(pods)),
					})
				}
				usage.Report(agentCtx, report)
			}
			select {
			case <-agentCtx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { stopAgent(); <-agentDone })
}

// An autoscaler on Kubernetes' autoscaling/v2 metrics: memory per pod as
// an AverageValue. 300Mi shared by the pods at 100Mi each is 3 pods, and it
// stays there.
func TestAutoscalerScalesOnMemoryAverageValue(t *testing.T) {
	srv, usage, _ := startAutoscaling(t)
	c := srv.Client
	ctx := ctxT(t)
	rs, err := c.ReplicaSets().Create(ctx, newRS("mem", 1, "mem"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Autoscalers().Create(ctx, &skiffv1.Autoscaler{
		Metadata: &skiffv1.ObjectMeta{Name: "mem", Namespace: "default"},
		Spec: &skiffv1.AutoscalerSpec{Target: "mem", MinReplicas: proto.Int32(1), MaxReplicas: 6,
			Metrics: []*skiffv1.MetricSpec{{Type: "Resource", Resource: &skiffv1.ResourceMetricSource{
				Name: "memory", Target: &skiffv1.MetricTarget{Type: "AverageValue", AverageValue: "100Mi"}}}},
			Behavior: &skiffv1.AutoscalerBehavior{ScaleDown: &skiffv1.ScalingRules{StabilizationWindowSeconds: proto.Int32(1)}}},
	}); err != nil {
		t.Fatal(err)
	}
	fakeAgent(t, ctx, c, usage, rs.GetMetadata().GetUid(), func(pods int) *skiffv1.ResourceUsage {
		return &skiffv1.ResourceUsage{MemoryWorkingSetBytes: uint64(300<<20) / uint64(pods)}
	})
	waitFor(t, "3 replicas for 300Mi at 100Mi a pod", func() (bool, error) {
		a, err := c.Autoscalers().Get(ctx, "default", "mem")
		return a.GetStatus().GetDesiredReplicas() == 3 && a.GetStatus().GetCurrentReplicas() == 3, err
	})
	a, err := c.Autoscalers().Get(ctx, "default", "mem")
	if err != nil {
		t.Fatal(err)
	}
	if c := findCond(a.GetStatus().GetConditions(), "ScalingActive"); c == nil || !strings.Contains(c.GetMessage(), "memory resource averagevalue") {
		t.Errorf("ScalingActive does not name the memory metric: %v", c)
	}
	if a.GetStatus().CurrentCpuUtilizationPercent != nil {
		t.Errorf("no cpu metric, yet status has a cpu utilization of %d", a.GetStatus().GetCurrentCpuUtilizationPercent())
	}
}

func findCond(conds []*skiffv1.Condition, typ string) *skiffv1.Condition {
	for _, c := range conds {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// An autoscaler can target a Deployment: it sets the deployment's
// replicas, which the deployment passes to its replica set.
func TestAutoscalerScalesADeployment(t *testing.T) {
	srv, usage, _ := startAutoscaling(t)
	c := srv.Client
	ctx := ctxT(t)
	dp, err := c.Deployments().Create(ctx, newDeployment("memd", 1, "busybox:1.36"))
	if err != nil {
		t.Fatal(err)
	}
	var rs *skiffv1.ReplicaSet
	waitFor(t, "the deployment's replica set", func() (bool, error) {
		sets, err := ownedSets(ctx, c, dp)
		if len(sets) == 1 {
			rs = sets[0]
		}
		return rs != nil, err
	})
	if _, err := c.Autoscalers().Create(ctx, &skiffv1.Autoscaler{
		Metadata: &skiffv1.ObjectMeta{Name: "memd", Namespace: "default"},
		Spec: &skiffv1.AutoscalerSpec{Target: "memd", TargetKind: "Deployment", MinReplicas: proto.Int32(1), MaxReplicas: 6,
			Metrics: []*skiffv1.MetricSpec{{Type: "Resource", Resource: &skiffv1.ResourceMetricSource{
				Name: "memory", Target: &skiffv1.MetricTarget{Type: "AverageValue", AverageValue: "100Mi"}}}}},
	}); err != nil {
		t.Fatal(err)
	}
	fakeAgent(t, ctx, c, usage, rs.GetMetadata().GetUid(), func(pods int) *skiffv1.ResourceUsage {
		return &skiffv1.ResourceUsage{MemoryWorkingSetBytes: uint64(300<<20) / uint64(pods)}
	})
	waitFor(t, "the deployment and its replica set at 3", func() (bool, error) {
		d, err := c.Deployments().Get(ctx, "default", "memd")
		if err != nil {
			return false, err
		}
		r, err := c.ReplicaSets().Get(ctx, "default", rs.GetMetadata().GetName())
		return d.GetSpec().GetReplicas() == 3 && r.GetSpec().GetReplicas() == 3, err
	})
}
