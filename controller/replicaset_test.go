package controller_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestReplicaSetHoldsReplicasAndScalesDownInOrder(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	reg := startManager(t, srv)

	rs, err := c.ReplicaSets().Create(ctx, newRS("web", 5, "web"))
	if err != nil {
		t.Fatal(err)
	}
	uid := rs.GetMetadata().GetUid()
	hasFive := func() (bool, error) {
		pods, err := podsOf(ctx, c, uid)
		return len(pods) == 5, err
	}
	waitFor(t, "5 pods", hasFive)

	pods, err := podsOf(ctx, c, uid)
	if err != nil || len(pods) != 5 {
		t.Fatalf("%d pods: %v", len(pods), err)
	}
	for _, p := range pods {
		name := p.GetMetadata().GetName()
		suffix, ok := strings.CutPrefix(name, "web-")
		if !ok || len(suffix) != 5 || strings.ToLower(suffix) != suffix {
			t.Errorf("pod name %q: want web-<5 lowercase alphanumerics>", name)
		}
		if p.GetMetadata().GetLabels()["app"] != "web" {
			t.Errorf("pod %s lacks the template's labels", name)
		}
	}

	// Random deletions, some in quick succession: the set always comes back to 5.
	for round := 0; round < 8; round++ {
		pods, err := podsOf(ctx, c, uid)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range rand.Perm(len(pods))[:1+rand.IntN(3)] {
			p := pods[i]
			if _, _, err := c.Pods().Delete(ctx, "default", p.GetMetadata().GetName(), client.DeleteOptions{}); err != nil && !client.IsNotFound(err) {
				t.Fatal(err)
			}
		}
		waitFor(t, fmt.Sprintf("5 pods again after round %d", round), hasFive)
	}
	// And never more than 5 (no double creates while the informer lagged).
	all, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil || len(all) != 5 {
		t.Fatalf("%d pods exist, want exactly 5 (%v)", len(all), err)
	}

	// Two pods running and ready, one running but not ready, two pending.
	if pods, err = podsOf(ctx, c, uid); err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{}
	for i, p := range pods {
		switch i {
		case 0, 1:
			keep[p.GetMetadata().GetName()] = true
			err = setPodState(ctx, c, p, "Running", true)
		case 2:
			err = setPodState(ctx, c, p, "Running", false)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "status: 5 replicas, all fully labeled, 2 ready", func() (bool, error) {
		rs, err := c.ReplicaSets().Get(ctx, "default", "web")
		st := rs.GetStatus()
		return st.GetReplicas() == 5 && st.GetFullyLabeledReplicas() == 5 && st.GetReadyReplicas() == 2 && st.GetAvailableReplicas() == 2 &&
			st.GetObservedGeneration() == rs.GetMetadata().GetGeneration(), err
	})

	if _, err := c.ReplicaSets().Modify(ctx, "default", "web", func(r *skiffv1.ReplicaSet) error {
		r.Spec.Replicas = proto.Int32(2)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 pods, the ready ones", func() (bool, error) {
		pods, err := podsOf(ctx, c, uid)
		if err != nil || len(pods) != 2 {
			return false, err
		}
		for _, p := range pods {
			if !keep[p.GetMetadata().GetName()] {
				return false, fmt.Errorf("kept %s, which was not ready", p.GetMetadata().GetName())
			}
		}
		return true, nil
	})
	waitFor(t, "status after scale-down", func() (bool, error) {
		rs, err := c.ReplicaSets().Get(ctx, "default", "web")
		return rs.GetStatus().GetReplicas() == 2 && rs.GetStatus().GetObservedGeneration() == rs.GetMetadata().GetGeneration(), err
	})

	if v, ok := gaugeValue(t, reg, "skiff_controller_reconcile_duration_seconds", map[string]string{"controller": "replicaset"}); !ok || v == 0 {
		t.Errorf("no replicaset reconciles recorded (%v, %v)", v, ok)
	}
	if _, ok := gaugeValue(t, reg, "skiff_controller_queue_depth", map[string]string{"controller": "replicaset"}); !ok {
		t.Error("skiff_controller_queue_depth{controller=replicaset} missing")
	}
	if _, ok := gaugeValue(t, reg, "skiff_controller_reconcile_errors_total", map[string]string{"controller": "garbagecollector"}); !ok {
		t.Error("skiff_controller_reconcile_errors_total{controller=garbagecollector} missing")
	}
}

func TestReplicaSetAdoptsAndReleases(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)

	// An orphan that matches, made before the replica set and the manager.
	orphan, err := c.Pods().Create(ctx, &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "stray", Namespace: "default", Labels: map[string]string{"app": "api"}},
		Spec:     podSpec("100m"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// One that does not match stays alone.
	if _, err := c.Pods().Create(ctx, &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "other", Namespace: "default", Labels: map[string]string{"app": "other"}},
		Spec:     podSpec("100m"),
	}); err != nil {
		t.Fatal(err)
	}
	startManager(t, srv)
	rs, err := c.ReplicaSets().Create(ctx, newRS("api", 2, "api"))
	if err != nil {
		t.Fatal(err)
	}
	uid := rs.GetMetadata().GetUid()
	waitFor(t, "the orphan adopted and one pod created", func() (bool, error) {
		pods, err := podsOf(ctx, c, uid)
		if err != nil || len(pods) != 2 {
			return false, err
		}
		for _, p := range pods {
			if p.GetMetadata().GetUid() == orphan.GetMetadata().GetUid() {
				return true, nil
			}
		}
		return false, fmt.Errorf("2 pods but the orphan is not one of them")
	})
	if o, err := c.Pods().Get(ctx, "default", "other"); err != nil {
		t.Fatal(err)
	} else if len(o.GetMetadata().GetOwnerReferences()) != 0 {
		t.Fatal("a pod that does not match was adopted")
	}

	// The adopted pod's labels change: it is released and replaced.
	if _, err := c.Pods().Modify(ctx, "default", "stray", func(p *skiffv1.Pod) error {
		p.Metadata.Labels["app"] = "debug"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pod released and replaced", func() (bool, error) {
		p, err := c.Pods().Get(ctx, "default", "stray")
		if err != nil || len(p.GetMetadata().GetOwnerReferences()) != 0 {
			return false, err
		}
		pods, err := podsOf(ctx, c, uid)
		return len(pods) == 2, err
	})
}

// A set applied as Kubernetes' apps/v1 makes pods that print as v1 Pods;
// one applied as skiff/v1 makes skiff/v1 pods.
func TestReplicaSetPodsAreAppliedAsTheSetWas(t *testing.T) {
	srv := apitest.Start(t)
	c := srv.Client
	ctx := ctxT(t)
	startManager(t, srv)
	kube := newRS("kube", 2, "kube")
	kube.Metadata.AppliedAs = &skiffv1.TypeMeta{ApiVersion: "apps/v1", Kind: "ReplicaSet"}
	for _, rs := range []*skiffv1.ReplicaSet{kube, newRS("own", 1, "own")} {
		if _, err := c.ReplicaSets().Create(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	var pods []*skiffv1.Pod
	waitFor(t, "3 pods", func() (bool, error) {
		var err error
		pods, _, err = c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
		return len(pods) == 3, err
	})
	for _, p := range pods {
		a := p.GetMetadata().GetAppliedAs()
		owner := p.GetMetadata().GetOwnerReferences()[0].GetName()
		if (owner == "kube") != (a.GetApiVersion() == "v1" && a.GetKind() == "Pod") {
			t.Errorf("pod %s of %s is applied as %v", p.GetMetadata().GetName(), owner, a)
		}
	}
}
