package controller_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

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
	usage := apiserver.NewUsageService(time.Minute)
	srv := apitest.Start(t, func(cfg *apiserver.Config) {
		cfg.RegisterServices = func(g *grpc.Server) { usage.Register(g) }
	})
	c := srv.Client
	ctx := ctxT(t)
	reg := startManager(t, srv, func(cfg *controller.Config) {
		cfg.AutoscalerSyncPeriod = 300 * time.Millisecond
		cfg.ScaleDownWindow = 3 * time.Second
	})

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
	loadMilli.Store(300) // 300m over 100m requests at a 50% target: 6 pods
	agentCtx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan struct{})
	go func() {
		defer close(agentDone)
		for agentCtx.Err() == nil {
			pods, err := podsOf(agentCtx, c, uid)
			if err == nil && len(pods) > 0 {
				report := &skiffv1.UsageReport{Node: "fake", NodeUsage: &skiffv1.ResourceUsage{}}
				per := float64(loadMilli.Load()) / 1000 / float64(len(pods))
				for _, p := range pods {
					setPodState(agentCtx, c, p, "Running", true)
					report.Pods = append(report.Pods, &skiffv1.PodUsage{
						Namespace: "default", Name: p.GetMetadata().GetName(), Uid: p.GetMetadata().GetUid(),
						Usage: &skiffv1.ResourceUsage{CpuCores: per, MemoryWorkingSetBytes: 10 << 20},
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

func findCond(conds []*skiffv1.Condition, typ string) *skiffv1.Condition {
	for _, c := range conds {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}
