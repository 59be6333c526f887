package apiserver_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/apiserver/listwire"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// preEncodedRequests are lists of every shape: namespaced and
// cluster-scoped, whole and in pages, with selectors.
var preEncodedRequests = []*skiffv1.ListRequest{
	{Kind: skiffv1.Kind_KIND_POD},
	{Kind: skiffv1.Kind_KIND_POD, Limit: 5},
	{Kind: skiffv1.Kind_KIND_POD, Namespace: "team"},
	{Kind: skiffv1.Kind_KIND_POD, Namespace: "team", Limit: 3},
	{Kind: skiffv1.Kind_KIND_POD, LabelSelector: "tier=odd"},
	{Kind: skiffv1.Kind_KIND_POD, LabelSelector: "step=updated", Limit: 2},
	{Kind: skiffv1.Kind_KIND_POD, FieldSelector: "status.phase=Running"},
	{Kind: skiffv1.Kind_KIND_POD, Namespace: "none"},
	{Kind: skiffv1.Kind_KIND_NODE},
	{Kind: skiffv1.Kind_KIND_NODE, Limit: 2},
	{Kind: skiffv1.Kind_KIND_NODE, LabelSelector: "zone=b"},
	{Kind: skiffv1.Kind_KIND_NAMESPACE, Limit: 1},
	{Kind: skiffv1.Kind_KIND_SECRET, Namespace: "team"},
}

// sameLists pages through every request on both servers and fails on the
// first page that differs.
func sameLists(t *testing.T, ctx context.Context, step string, cached, direct *apitest.Server) {
	t.Helper()
	for _, req := range preEncodedRequests {
		for page := 0; ; page++ {
			a, err := cached.Client.API().List(ctx, req)
			if err != nil {
				t.Fatalf("%s: %v from the cache: %v", step, req, err)
			}
			b, err := direct.Client.API().List(ctx, req)
			if err != nil {
				t.Fatalf("%s: %v from etcd: %v", step, req, err)
			}
			if !proto.Equal(a, b) {
				t.Fatalf("%s: %v, page %d:\npre-encoded %v (continue %q, remaining %d) at %s\nfrom etcd   %v (continue %q, remaining %d) at %s",
					step, req, page, keysOf(a.Items), a.Continue, a.RemainingItemCount, a.ResourceVersion,
					keysOf(b.Items), b.Continue, b.RemainingItemCount, b.ResourceVersion)
			}
			if a.Continue == "" {
				break
			}
			req = proto.CloneOf(req)
			req.Continue = a.Continue
		}
	}
}

// The lists a server sends from its watch cache's encoded objects decode,
// over gRPC, to exactly the ListResponses a server without the cache
// reads from etcd: whole and in pages, with selectors, for namespaced and
// cluster-scoped kinds, after updates and deletes (no stale bytes), and
// while lists run alongside the writes.
func TestPreEncodedListsAsFromEtcd(t *testing.T) {
	cached := apitest.Start(t)
	direct := apitest.Start(t, func(c *apiserver.Config) {
		c.EtcdEndpoints = cached.EtcdEndpoints
		c.DisableWatchCache = true
		c.SecretKeyFile = filepath.Join(cached.DataDir, "pki", "secret-encryption-keys") // to read its Secrets
	})
	ctx := ctxT(t)
	c := cached.Client
	createNamespace(t, ctx, c, "team")
	makePods(t, ctx, c, "default", 12)
	makePods(t, ctx, c, "team", 7)
	for i := range 5 {
		n := &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: fmt.Sprint("n", i), Labels: map[string]string{"zone": []string{"a", "b"}[i%2]}}}
		if _, err := c.Nodes().Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Secrets().Create(ctx, &skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Namespace: "team", Name: "s"},
		Data: map[string][]byte{"key": {0, 1, 2, 255}}}); err != nil {
		t.Fatal(err)
	}
	sameLists(t, ctx, "created", cached, direct)

	// The cache's answer really is the pre-encoded one, and the direct
	// server's the marshalled one.
	req := &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, Limit: 5}
	got, err := apiserver.ListForWire(cached.Server, ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := got.(*listwire.Response); !ok || len(r.Items) != 5 {
		t.Fatalf("the cached server answers a list with %T, want a *listwire.Response of 5 items", got)
	}
	if got, err := apiserver.ListForWire(direct.Server, ctx, req); err != nil {
		t.Fatal(err)
	} else if _, ok := got.(*skiffv1.ListResponse); !ok {
		t.Fatalf("the server without a cache answers a list with %T, want a *skiffv1.ListResponse", got)
	}

	// Updates and deletes while lists read the cache.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := cached.Client.Pods().ListChunked(ctx, client.ListOptions{}, 4); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 12; i += 2 {
		p, err := c.Pods().Get(ctx, "default", fmt.Sprintf("p%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		p.Metadata.Labels["step"] = "updated"
		if _, err := c.Pods().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		p, err := c.Pods().Get(ctx, "team", fmt.Sprintf("p%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		p.Status = &skiffv1.PodStatus{Phase: skiffv1.PodRunning}
		if _, err := c.Pods().UpdateStatus(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, del := range []struct{ ns, name string }{{"default", "p03"}, {"default", "p04"}, {"team", "p06"}} {
		if _, _, err := c.Pods().Delete(ctx, del.ns, del.name, client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.Nodes().Get(ctx, "", "n1")
	if err != nil {
		t.Fatal(err)
	}
	n.Metadata.Labels["zone"] = "a"
	if _, err := c.Nodes().Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Nodes().Delete(ctx, "", "n2", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	sameLists(t, ctx, "after updates and deletes", cached, direct)

	// And what they agree on is the new state.
	updated, _, err := c.Pods().List(ctx, client.ListOptions{LabelSelector: "step=updated"})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(updated); got != 5 { // p00 … p10, even, without p04
		t.Errorf("%d pods carry the updated label, want 5", got)
	}
	if listsServed(t, cached, "pods") == 0 || listsServed(t, cached, "nodes") == 0 {
		t.Error("the cached server read no pod or node list from its cache")
	}
}
