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
	defer scope.Close()
	inf, err := newInformers(scope)
	if err != nil {
		t.Fatal(err)
	}
	gc := newGarbageCollector(cfg, inf, m)
	defer gc.r.queue.ShutDown()
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
