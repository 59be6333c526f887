package controlplane

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The informers the server's components share hold the API server's
// watch cache's objects, not copies of them: the pod the scheduler's
// informer hands out is the very object a list from the cache returns.
func TestSharedInformersHoldTheWatchCachesObjects(t *testing.T) {
	cp, _ := start(t, false)
	ctx := testCtx(t)
	if cp.reads == nil {
		t.Fatal("a server with a watch cache shares its informers over gRPC")
	}
	createPod(ctx, t, cp)
	scope := cp.informers.NewScope()
	defer scope.Close()
	pods := client.Inform(scope, (*client.Client).Pods, client.ListOptions{})
	scope.Start()
	if !pods.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := cp.reads.List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Items) != 1 {
			t.Fatalf("the cache lists %d pods, want 1", len(resp.Items))
		}
		cached := resp.Items[0].GetPod()
		held, ok := pods.Get("default/p")
		if ok && held == cached {
			return
		}
		// The informer may be a change behind the list (the scheduler
		// writes the pod's status): wait for it.
		if time.Now().After(deadline) {
			t.Fatalf("the shared informer holds %p (rv %s), the watch cache %p (rv %s)", held, held.GetMetadata().GetResourceVersion(), cached, cached.GetMetadata().GetResourceVersion())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A server without a watch cache has its components read over gRPC, and
// they work: the scheduler marks a pod with no node unschedulable.
func TestSharedInformersWithoutWatchCache(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{
		DataDir: filepath.Join(dir, "server"), Listen: "127.0.0.1:0", EtcdListen: "127.0.0.1:0",
		ClusterCIDR: "10.88.0.0/16", ClusterDomain: "cluster.local", Insecure: true, DisableWatchCache: true,
		Metrics: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
	}
	runCtx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(runCtx)
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil && runCtx.Err() == nil {
			t.Errorf("control plane: %v", err)
		}
	})
	cp, err := Start(gctx, g, cfg)
	if err != nil || cp == nil {
		t.Fatalf("start: %v", err)
	}
	if cp.reads != nil {
		t.Fatal("a server without a watch cache reads in process")
	}
	ctx := testCtx(t)
	c := createPod(ctx, t, cp)
	waitUnschedulable(ctx, t, c)
}
