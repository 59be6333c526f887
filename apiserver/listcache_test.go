package apiserver_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// listsServed is how many list pages of kind the watch cache answered
// from memory.
func listsServed(t *testing.T, s *apitest.Server, kind string) float64 {
	t.Helper()
	families, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "skiff_apiserver_watch_cache_lists_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// Two servers over one etcd, one listing from its watch cache and one from
// etcd, answer the same requests — pages, tokens, remainingItemCount,
// revisions and errors — byte for byte.
func TestListSameFromCacheAndEtcd(t *testing.T) {
	cached := apitest.Start(t)
	direct := apitest.Start(t, func(c *apiserver.Config) {
		c.EtcdEndpoints = cached.EtcdEndpoints
		c.DisableWatchCache = true
	})
	ctx := ctxT(t)
	createNamespace(t, ctx, cached.Client, "team")
	makePods(t, ctx, cached.Client, "default", 11)
	makePods(t, ctx, cached.Client, "team", 8)
	for _, req := range []*skiffv1.ListRequest{
		{Kind: skiffv1.Kind_KIND_POD},
		{Kind: skiffv1.Kind_KIND_POD, Limit: 4},
		{Kind: skiffv1.Kind_KIND_POD, Namespace: "team", Limit: 3},
		{Kind: skiffv1.Kind_KIND_POD, LabelSelector: "tier=odd", Limit: 2},
		{Kind: skiffv1.Kind_KIND_POD, FieldSelector: "metadata.name=p07", Limit: 1},
		{Kind: skiffv1.Kind_KIND_POD, Namespace: "none"},
		{Kind: skiffv1.Kind_KIND_NAMESPACE, Limit: 1},
		{Kind: skiffv1.Kind_KIND_NODE},
		{Kind: skiffv1.Kind_KIND_POD, Limit: -1},
		{Kind: skiffv1.Kind_KIND_POD, Continue: "garbage"},
		{Kind: skiffv1.Kind_KIND_POD, LabelSelector: "=bad"},
	} {
		what := fmt.Sprintf("%v", req)
		for page := 0; ; page++ {
			a, aerr := cached.Client.API().List(ctx, req)
			b, berr := direct.Client.API().List(ctx, req)
			if aerr != nil || berr != nil {
				if status.Code(aerr) != status.Code(berr) || status.Convert(aerr).Message() != status.Convert(berr).Message() {
					t.Fatalf("%s: from the cache %v, from etcd %v", what, aerr, berr)
				}
				break
			}
			if !proto.Equal(a, b) {
				t.Fatalf("%s, page %d:\nfrom the cache %v (continue %q, remaining %d) at %s\nfrom etcd      %v (continue %q, remaining %d) at %s",
					what, page, keysOf(a.Items), a.Continue, a.RemainingItemCount, a.ResourceVersion, keysOf(b.Items), b.Continue, b.RemainingItemCount, b.ResourceVersion)
			}
			if a.Continue == "" {
				break
			}
			req = proto.CloneOf(req)
			req.Continue = a.Continue
		}
	}
	if listsServed(t, cached, "pods") == 0 {
		t.Error("the cached server read no pod list from its cache")
	}
	if listsServed(t, direct, "pods") != 0 {
		t.Error("the server without a watch cache served lists from one")
	}
}

// A write acknowledged to one client is in the very next list another
// client reads, from the cache, while writes of another kind move etcd's
// revision on without any pod event.
func TestListReadYourWritesFromCache(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	reader, err := client.New(s.Addr, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	// Warm the pod cache.
	if _, _, err := reader.Pods().List(ctx, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cm := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: fmt.Sprint("noise", i)}}
			if _, err := s.Client.ConfigMaps().Create(ctx, cm); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	names := func() []string {
		t.Helper()
		pods, _, err := reader.Pods().List(ctx, client.ListOptions{Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range pods {
			out = append(out, p.GetMetadata().GetName()+"="+p.GetMetadata().GetLabels()["step"])
		}
		return out
	}
	for i := range 20 {
		name := fmt.Sprint("p", i)
		p := pod(name)
		p.Metadata.Labels["step"] = "created"
		created, err := s.Client.Pods().Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(); !slices.Contains(got, name+"=created") {
			t.Fatalf("step %d: the list after a create lacks it: %v", i, got)
		}
		created.Metadata.Labels["step"] = "updated"
		if _, err := s.Client.Pods().Update(ctx, created); err != nil {
			t.Fatal(err)
		}
		if got := names(); !slices.Contains(got, name+"=updated") {
			t.Fatalf("step %d: the list after an update lacks it: %v", i, got)
		}
		if i%2 == 0 {
			if _, _, err := s.Client.Pods().Delete(ctx, "default", name, client.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := names(); slices.Contains(got, name+"=updated") {
				t.Fatalf("step %d: the list after a delete still has it: %v", i, got)
			}
		}
	}
	if listsServed(t, s, "pods") == 0 {
		t.Error("no pod list was read from the cache")
	}
}
