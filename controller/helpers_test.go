package controller_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// deadline is generous: these tests wait for conditions, never time them.
const deadline = 60 * time.Second

func testLogger() *slog.Logger {
	if os.Getenv("SKIFF_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startManager runs a controller manager against srv until the test ends.
func startManager(t *testing.T, srv *apitest.Server, configure ...func(*controller.Config)) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := controller.Config{Client: srv.Client, Logger: testLogger(), Metrics: reg}
	for _, f := range configure {
		f(&cfg)
	}
	m, err := controller.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop within 30s")
		}
	})
	return reg
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	end := time.Now().Add(deadline)
	var lastErr error
	for time.Now().Before(end) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, lastErr)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func podSpec(cpu string) *skiffv1.PodSpec {
	return &skiffv1.PodSpec{Containers: []*skiffv1.Container{{
		Name: "c", Image: "busybox:1.36",
		Resources: &skiffv1.ResourceRequirements{Requests: map[string]string{"cpu": cpu, "memory": "16Mi"}},
	}}}
}

func newRS(name string, replicas int32, app string) *skiffv1.ReplicaSet {
	return &skiffv1.ReplicaSet{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &skiffv1.ReplicaSetSpec{
			Replicas: proto.Int32(replicas),
			Selector: &skiffv1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: &skiffv1.PodTemplateSpec{
				Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": app}},
				Spec:     podSpec("100m"),
			},
		},
	}
}

// podsOf lists the active pods controlled by the replica set with uid.
func podsOf(ctx context.Context, c *client.Client, uid string) ([]*skiffv1.Pod, error) {
	all, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		return nil, err
	}
	var out []*skiffv1.Pod
	for _, p := range all {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		for _, r := range p.GetMetadata().GetOwnerReferences() {
			if r.GetUid() == uid && r.GetController() {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// setPodState writes a pod's phase and Ready condition, as an agent would.
func setPodState(ctx context.Context, c *client.Client, p *skiffv1.Pod, phase string, ready bool) error {
	_, err := c.Pods().ModifyStatus(ctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), func(cur *skiffv1.Pod) error {
		st := "False"
		if ready {
			st = "True"
		}
		if cur.Status == nil {
			cur.Status = &skiffv1.PodStatus{}
		}
		if cur.Status.Phase == phase && hasReady(cur) == ready {
			return client.ErrNoChange
		}
		cur.Status.Phase = phase
		kept := cur.Status.Conditions[:0]
		for _, c := range cur.Status.Conditions {
			if c.GetType() != "Ready" {
				kept = append(kept, c)
			}
		}
		cur.Status.Conditions = append(kept, &skiffv1.Condition{Type: "Ready", Status: st, LastTransitionTime: timestamppb.Now()})
		return nil
	})
	return err
}

func hasReady(p *skiffv1.Pod) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

// fakeNodes registers nodes through the API and posts their heartbeats
// until stopped, node by node, like agents that can be killed and
// brought back.
type fakeNodes struct {
	c       *client.Client
	mu      sync.Mutex
	beating map[string]bool
}

func startFakeNodes(t *testing.T, c *client.Client, names ...string) *fakeNodes {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeNodes{c: c, beating: map[string]bool{}}
	alloc := map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"}
	for _, n := range names {
		_, err := c.Nodes().Create(ctx, &skiffv1.Node{
			Metadata: &skiffv1.ObjectMeta{Name: n},
			Spec:     &skiffv1.NodeSpec{},
			Status: &skiffv1.NodeStatus{Capacity: alloc, Allocatable: alloc, Conditions: []*skiffv1.Condition{
				{Type: "Ready", Status: "True", LastHeartbeatTime: timestamppb.Now(), LastTransitionTime: timestamppb.Now()},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		f.beating[n] = true
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for _, n := range names {
				if f.isBeating(n) {
					f.beat(ctx, n)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

func (f *fakeNodes) isBeating(n string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.beating[n]
}

func (f *fakeNodes) set(n string, beating bool) {
	f.mu.Lock()
	f.beating[n] = beating
	f.mu.Unlock()
}

func (f *fakeNodes) beat(ctx context.Context, n string) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	f.c.Nodes().ModifyStatus(cctx, "", n, func(cur *skiffv1.Node) error {
		now := timestamppb.Now()
		c := &skiffv1.Condition{Type: "Ready", Status: "True", Reason: "AgentReady", LastHeartbeatTime: now, LastTransitionTime: now}
		kept := cur.Status.Conditions[:0]
		for _, old := range cur.Status.Conditions {
			if old.GetType() == "Ready" {
				if old.GetStatus() == "True" {
					c.LastTransitionTime = old.GetLastTransitionTime()
				}
				continue
			}
			kept = append(kept, old)
		}
		cur.Status.Conditions = append(kept, c)
		return nil
	})
}

func nodeCondition(n *skiffv1.Node, typ string) *skiffv1.Condition {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

func hasTaint(n *skiffv1.Node, key string) bool {
	for _, t := range n.GetSpec().GetTaints() {
		if t.GetKey() == key {
			return true
		}
	}
	return false
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

var _ = fmt.Sprintf
