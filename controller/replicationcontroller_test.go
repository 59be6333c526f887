package controller_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newRC(name string, replicas *int32, selector, tmplLabels map[string]string) *skiffv1.ReplicationController {
	return &skiffv1.ReplicationController{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &skiffv1.ReplicationControllerSpec{
			Replicas: replicas,
			Selector: selector,
			Template: &skiffv1.PodTemplateSpec{
				Metadata: &skiffv1.ObjectMeta{Labels: tmplLabels},
				Spec:     podSpec("100m"),
			},
		},
	}
}

func waitRCStatus(t *testing.T, ctx context.Context, c *client.Client, name, what string, ok func(*skiffv1.ReplicationControllerStatus) bool) {
	t.Helper()
	waitFor(t, what, func() (bool, error) {
		rc, err := c.ReplicationControllers().Get(ctx, "default", name)
		if err != nil {
			return false, err
		}
		return rc.GetStatus().GetObservedGeneration() == rc.GetMetadata().GetGeneration() && ok(rc.GetStatus()), nil
	})
}

func TestReplicationControllerAdoptsScalesAndCounts(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)

	// An orphan matching the selector but without the template's tier
	// label: adopted, yet not fully labelled.
	stray, err := c.Pods().Create(ctx, &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "stray", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec:     podSpec("100m"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pods().Create(ctx, &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "other", Namespace: "default", Labels: map[string]string{"app": "other"}},
		Spec:     podSpec("100m"),
	}); err != nil {
		t.Fatal(err)
	}
	startManager(t, srv)
	rc, err := c.ReplicationControllers().Create(ctx, newRC("web", proto.Int32(3), map[string]string{"app": "web"}, map[string]string{"app": "web", "tier": "fe"}))
	if err != nil {
		t.Fatal(err)
	}
	uid := rc.GetMetadata().GetUid()
	hasN := func(n int) func() (bool, error) {
		return func() (bool, error) {
			pods, err := podsOf(ctx, c, uid)
			return len(pods) == n, err
		}
	}
	waitFor(t, "3 pods, the orphan among them", hasN(3))
	pods, err := podsOf(ctx, c, uid)
	if err != nil {
		t.Fatal(err)
	}
	adopted := false
	for _, p := range pods {
		ref := p.GetMetadata().GetOwnerReferences()[0]
		if ref.GetKind() != "ReplicationController" || ref.GetName() != "web" || !ref.GetController() {
			t.Errorf("pod %s is owned through %v, want the ReplicationController web as controller", p.GetMetadata().GetName(), ref)
		}
		adopted = adopted || p.GetMetadata().GetUid() == stray.GetMetadata().GetUid()
	}
	if !adopted {
		t.Error("the matching orphan was not adopted")
	}
	if o, err := c.Pods().Get(ctx, "default", "other"); err != nil {
		t.Fatal(err)
	} else if len(o.GetMetadata().GetOwnerReferences()) != 0 {
		t.Error("a pod that does not match was adopted")
	}
	waitRCStatus(t, ctx, c, "web", "3 replicas, 2 fully labelled", func(st *skiffv1.ReplicationControllerStatus) bool {
		return st.GetReplicas() == 3 && st.GetFullyLabeledReplicas() == 2 && st.GetReadyReplicas() == 0
	})

	// Two pods running and ready, as an agent would report.
	for _, p := range pods[:2] {
		if err := setPodState(ctx, c, p, "Running", true); err != nil {
			t.Fatal(err)
		}
	}
	waitRCStatus(t, ctx, c, "web", "2 ready and available", func(st *skiffv1.ReplicationControllerStatus) bool {
		return st.GetReadyReplicas() == 2 && st.GetAvailableReplicas() == 2
	})

	// Deleted pods are replaced.
	for _, p := range pods[:2] {
		if _, _, err := c.Pods().Delete(ctx, "default", p.GetMetadata().GetName(), client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "3 pods again after 2 deletions", func() (bool, error) {
		now, err := podsOf(ctx, c, uid)
		if err != nil || len(now) != 3 {
			return false, err
		}
		for _, p := range now {
			if n := p.GetMetadata().GetName(); n == pods[0].GetMetadata().GetName() || n == pods[1].GetMetadata().GetName() {
				return false, nil
			}
		}
		return true, nil
	})

	scale := func(n int32) {
		t.Helper()
		if _, err := c.ReplicationControllers().Modify(ctx, "default", "web", func(r *skiffv1.ReplicationController) error {
			r.Spec.Replicas = proto.Int32(n)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	scale(5)
	waitFor(t, "5 pods after scaling up", hasN(5))
	scale(1)
	waitFor(t, "1 pod after scaling down", hasN(1))
	waitRCStatus(t, ctx, c, "web", "status of 1 replica", func(st *skiffv1.ReplicationControllerStatus) bool {
		return st.GetReplicas() == 1
	})
	all, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, p := range all {
		if p.GetMetadata().GetDeletionTimestamp() == nil {
			active++
		}
	}
	if active != 2 { // web's one and "other"
		t.Errorf("%d pods exist, want web's 1 and the unrelated one", active)
	}
}

// An empty selector is the template's labels and replicas default to 1,
// as in Kubernetes; deleting the controller deletes its pods.
func TestReplicationControllerDefaultsAndCascades(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startManager(t, srv)
	tmpl := map[string]string{"app": "db", "tier": "data"}
	rc, err := c.ReplicationControllers().Create(ctx, newRC("db", nil, nil, maps.Clone(tmpl)))
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.GetSpec().GetSelector(); !maps.Equal(got, tmpl) {
		t.Errorf("stored selector %v, want the template's labels %v", got, tmpl)
	}
	if rc.GetSpec().GetReplicas() != 1 {
		t.Errorf("stored replicas %d, want the default 1", rc.GetSpec().GetReplicas())
	}
	uid := rc.GetMetadata().GetUid()
	waitFor(t, "1 pod", func() (bool, error) {
		pods, err := podsOf(ctx, c, uid)
		return len(pods) == 1, err
	})
	waitRCStatus(t, ctx, c, "db", "1 replica, fully labelled", func(st *skiffv1.ReplicationControllerStatus) bool {
		return st.GetReplicas() == 1 && st.GetFullyLabeledReplicas() == 1
	})

	if _, _, err := c.ReplicationControllers().Delete(ctx, "default", "db", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "its pod collected", func() (bool, error) {
		all, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
		if err != nil {
			return false, err
		}
		for _, p := range all {
			if p.GetMetadata().GetLabels()["app"] == "db" {
				return false, nil
			}
		}
		return true, nil
	})
}

// A ReplicaSet and a ReplicationController selecting the same labels each
// keep their own pods: neither adopts the other's.
func TestReplicationControllerBesideReplicaSet(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startManager(t, srv)
	rs, err := c.ReplicaSets().Create(ctx, newRS("shared-rs", 2, "shared"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.ReplicationControllers().Create(ctx, newRC("shared-rc", proto.Int32(3), nil, map[string]string{"app": "shared"}))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 pods of the set and 3 of the controller", func() (bool, error) {
		a, err := podsOf(ctx, c, rs.GetMetadata().GetUid())
		if err != nil {
			return false, err
		}
		b, err := podsOf(ctx, c, rc.GetMetadata().GetUid())
		if err != nil {
			return false, err
		}
		all, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
		if len(all) > 5 {
			return false, fmt.Errorf("%d pods: one controller made pods for the other", len(all))
		}
		return len(a) == 2 && len(b) == 3, err
	})
}

// A create the server refuses shows as the ReplicaFailure condition, which
// goes once nothing fails. The refusal here: the server refuses pods
// labelled app=refused. The controller's long name (60 characters) still
// makes valid pod names: its prefix is cut, as Kubernetes cuts it.
func TestReplicationControllerReplicaFailure(t *testing.T) {
	refuse := func(cfg *apiserver.Config) {
		cfg.GRPCOptions = append(cfg.GRPCOptions, grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			if cr, ok := req.(*skiffv1.CreateRequest); ok && cr.GetObject().GetPod().GetMetadata().GetLabels()["app"] == "refused" {
				return nil, status.Error(codes.InvalidArgument, "metadata.labels: refused by this test")
			}
			return next(ctx, req)
		}))
	}
	srv := apitest.Start(t, refuse)
	c := srv.Client
	ctx := ctxT(t)
	startManager(t, srv)
	long := strings.Repeat("a", 60)
	if _, err := c.ReplicationControllers().Create(ctx, newRC(long, proto.Int32(1), nil, map[string]string{"app": "long"})); err != nil {
		t.Fatal(err)
	}
	waitRCStatus(t, ctx, c, long, "a ready pod of a controller with a 60-character name", func(st *skiffv1.ReplicationControllerStatus) bool {
		return st.GetReplicas() == 1
	})
	name := "refused"
	if _, err := c.ReplicationControllers().Create(ctx, newRC(name, proto.Int32(1), nil, map[string]string{"app": "refused"})); err != nil {
		t.Fatal(err)
	}
	waitRCStatus(t, ctx, c, name, "ReplicaFailure True, FailedCreate", func(st *skiffv1.ReplicationControllerStatus) bool {
		cond := skiffv1.FindCondition(st.GetConditions(), skiffv1.ReplicaFailure)
		return cond != nil && cond.GetStatus() == skiffv1.ConditionTrue && cond.GetReason() == "FailedCreate" && strings.Contains(cond.GetMessage(), "refused by this test")
	})
	if _, err := c.ReplicationControllers().Modify(ctx, "default", name, func(r *skiffv1.ReplicationController) error {
		r.Spec.Replicas = proto.Int32(0)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitRCStatus(t, ctx, c, name, "no ReplicaFailure at 0 replicas", func(st *skiffv1.ReplicationControllerStatus) bool {
		return skiffv1.FindCondition(st.GetConditions(), skiffv1.ReplicaFailure) == nil
	})
}
