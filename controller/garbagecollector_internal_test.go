package controller

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A pod the informer delivers before the nodes' cache has synced must still
// be looked at: its node may have been deleted while no collector ran, and
// no later event would bring it back.
func TestCheckNodeBeforeNodesSynced(t *testing.T) {
	_, inf, gc := newTestCollector(t)
	if inf.nodes.HasSynced() {
		t.Fatal("nodes informer synced without running")
	}
	gc.checkNode(&skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:     &skiffv1.PodSpec{NodeName: "gone"},
	})
	if n := gc.r.queue.Len(); n != 1 {
		t.Fatalf("queue holds %d keys after a bound pod arrived before the nodes synced, want 1", n)
	}
}

// An owner whose deletion the caches showed is gone for the collector,
// whatever a read answers: a read just after a watch event may still find
// the owner (the failure this guards against left a deleted replication
// controller's pod running).
func TestOwnerSeenDeletedIsNotLookedUp(t *testing.T) {
	srv, _, gc := newTestCollector(t)

	// The server still has the owner: only what the collector was told
	// can make it absent.
	rc, err := srv.Client.ReplicationControllers().Create(t.Context(), &skiffv1.ReplicationController{
		Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &skiffv1.ReplicationControllerSpec{Selector: map[string]string{"app": "web"}, Template: &skiffv1.PodTemplateSpec{
			Metadata: &skiffv1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec:     &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "busybox"}}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ref := &skiffv1.OwnerReference{Kind: "ReplicationController", Name: "web", Uid: rc.GetMetadata().GetUid()}
	if exists, err := gc.ownerExists(t.Context(), "default", ref); err != nil || !exists {
		t.Fatalf("before its deletion was seen: exists %v, %v", exists, err)
	}
	gc.ownerGone(rc.GetMetadata().GetUid())
	if exists, err := gc.ownerExists(t.Context(), "default", ref); err != nil || exists {
		t.Fatalf("after its deletion was seen: exists %v, %v", exists, err)
	}
}

func TestRecentSetKeepsTheNewest(t *testing.T) {
	s := newRecentSet(3)
	for _, k := range []string{"a", "b", "c", "b", "d"} {
		s.add(k)
	}
	for k, want := range map[string]bool{"a": false, "b": true, "c": true, "d": true} {
		if s.has(k) != want {
			t.Errorf("has(%q) = %v, want %v", k, !want, want)
		}
	}
}

// newTestCollector makes a garbage collector on a test API server, its
// informers not running.
func newTestCollector(t *testing.T) (*apitest.Server, *informers, *garbageCollector) {
	t.Helper()
	srv := apitest.Start(t)
	cfg := &Config{Client: srv.Client, Metrics: prometheus.NewRegistry()}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	scope := client.NewSharedInformers(cfg.Client, cfg.Logger).NewScope()
	t.Cleanup(scope.Close)
	inf, err := newInformers(scope)
	if err != nil {
		t.Fatal(err)
	}
	gc := newGarbageCollector(cfg, inf, m)
	t.Cleanup(gc.r.queue.ShutDown)
	return srv, inf, gc
}
