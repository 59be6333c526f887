package apiserver_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// bothWays runs a test against a server with the watch cache, whose lists
// are read from memory, and one without, whose lists are read from etcd:
// the answers must not differ.
func bothWays(t *testing.T, test func(t *testing.T, s *apitest.Server)) {
	for _, off := range []bool{false, true} {
		t.Run(map[bool]string{false: "cache", true: "etcd"}[off], func(t *testing.T) {
			test(t, apitest.Start(t, func(c *apiserver.Config) { c.DisableWatchCache = off }))
		})
	}
}

// makePods creates pods named p00…, in ns, labelled tier=even or tier=odd.
func makePods(t *testing.T, ctx context.Context, c *client.Client, ns string, n int) []string {
	t.Helper()
	var keys []string
	for i := range n {
		p := pod(fmt.Sprintf("p%02d", i))
		p.Metadata.Namespace = ns
		p.Metadata.Labels["tier"] = []string{"even", "odd"}[i%2]
		if _, err := c.Pods().Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, ns+"/"+p.Metadata.Name)
	}
	return keys
}

func createNamespace(t *testing.T, ctx context.Context, c *client.Client, name string) {
	t.Helper()
	if _, err := c.Namespaces().Create(ctx, &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

func keysOf(items []*skiffv1.Object) []string {
	var out []string
	for _, o := range items {
		out = append(out, client.KeyOf(o.Unwrap()))
	}
	return out
}

// Paging through a list gives every object exactly once, in key order, as
// it was at the first page's revision: objects created or deleted between
// pages change nothing, and every page says the first page's revision.
func TestListPagesAreOneSnapshot(t *testing.T) { bothWays(t, listPagesAreOneSnapshot) }

func listPagesAreOneSnapshot(t *testing.T, s *apitest.Server) {
	ctx := ctxT(t)
	createNamespace(t, ctx, s.Client, "team")
	want := append(makePods(t, ctx, s.Client, "default", 13), makePods(t, ctx, s.Client, "team", 12)...)
	slices.Sort(want)

	var got []string
	var rv, cont string
	for page := 0; ; page++ {
		resp, err := s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, Limit: 7, Continue: cont})
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if page == 0 {
			rv = resp.ResourceVersion
		} else if resp.ResourceVersion != rv {
			t.Fatalf("page %d read at revision %s, the first at %s", page, resp.ResourceVersion, rv)
		}
		if len(resp.Items) > 7 {
			t.Fatalf("page %d holds %d items, over the limit of 7", page, len(resp.Items))
		}
		got = append(got, keysOf(resp.Items)...)
		listRev, _ := strconv.ParseInt(rv, 10, 64)
		for _, o := range resp.Items {
			if r, _ := strconv.ParseInt(o.Unwrap().GetMetadata().GetResourceVersion(), 10, 64); r <= 0 || r > listRev {
				t.Fatalf("page %d holds %s at revision %d, not before the list's %d", page, client.KeyOf(o.Unwrap()), r, listRev)
			}
		}
		wantRemaining := int64(len(want) - len(got))
		if resp.Continue == "" {
			wantRemaining = 0
		}
		if resp.RemainingItemCount != wantRemaining {
			t.Fatalf("page %d: remainingItemCount %d, want %d", page, resp.RemainingItemCount, wantRemaining)
		}
		if resp.Continue == "" {
			break
		}
		cont = resp.Continue
		// The world moves on between pages.
		if _, err := s.Client.Pods().Create(ctx, pod(fmt.Sprintf("new%d", page))); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Client.Pods().Delete(ctx, "team", fmt.Sprintf("p%02d", 11-page), client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave\n%v\nwant\n%v", got, want)
	}
	// A fresh list sees the changes.
	now, _, err := s.Client.Pods().ListChunked(ctx, client.ListOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var nowKeys []string
	for _, p := range now {
		nowKeys = append(nowKeys, client.KeyOf(p))
	}
	if !slices.Contains(nowKeys, "default/new0") || slices.Contains(nowKeys, "team/p11") {
		t.Fatalf("a new list does not show the changes made between pages: %v", nowKeys)
	}
}

// Limit 0 reads everything in one answer; continue with limit 0 reads the
// rest.
func TestListLimitZeroIsEverything(t *testing.T) { bothWays(t, listLimitZeroIsEverything) }

func listLimitZeroIsEverything(t *testing.T, s *apitest.Server) {
	ctx := ctxT(t)
	want := makePods(t, ctx, s.Client, "default", 9)
	resp, err := s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keysOf(resp.Items), want) || resp.Continue != "" || resp.RemainingItemCount != 0 {
		t.Fatalf("limit 0: %v continue %q remaining %d", keysOf(resp.Items), resp.Continue, resp.RemainingItemCount)
	}
	first, err := s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, Namespace: "default", Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if first.RemainingItemCount != 5 {
		t.Fatalf("remainingItemCount %d, want 5", first.RemainingItemCount)
	}
	rest, err := s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, Namespace: "default", Continue: first.Continue})
	if err != nil {
		t.Fatal(err)
	}
	if got := append(keysOf(first.Items), keysOf(rest.Items)...); !slices.Equal(got, want) || rest.Continue != "" {
		t.Fatalf("4 then the rest: %v (continue %q)", got, rest.Continue)
	}
}

// With a selector, pages are filtered after reading, as in Kubernetes:
// a page holds at most limit matches, and the server reads on past chunks
// without one rather than answer an empty page with a continue.
func TestListSelectorWithLimit(t *testing.T) { bothWays(t, listSelectorWithLimit) }

func listSelectorWithLimit(t *testing.T, s *apitest.Server) {
	ctx := ctxT(t)
	all := makePods(t, ctx, s.Client, "default", 40)
	var want []string
	for i, k := range all {
		if i%2 == 1 {
			want = append(want, k)
		}
	}
	var got []string
	cont := ""
	pages := 0
	for {
		resp, err := s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, LabelSelector: "tier=odd", Limit: 3, Continue: cont})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(resp.Items) > 3 || (len(resp.Items) == 0 && resp.Continue != "") {
			t.Fatalf("page %d: %d items, continue %q", pages, len(resp.Items), resp.Continue)
		}
		if resp.RemainingItemCount != 0 {
			t.Fatalf("remainingItemCount %d with a selector; Kubernetes leaves it unset", resp.RemainingItemCount)
		}
		got = append(got, keysOf(resp.Items)...)
		if cont = resp.Continue; cont == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	// Only the last of 40 pods matches: one page holds it, read in several
	// growing chunks, with nothing left to continue.
	resp, err := s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, FieldSelector: "metadata.name=p39", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(resp.Items); !slices.Equal(got, []string{"default/p39"}) || resp.Continue != "" {
		t.Fatalf("sparse match: %v continue %q", got, resp.Continue)
	}
	resp, err = s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, LabelSelector: "tier=none", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Items) != 0 || resp.Continue != "" {
		t.Fatalf("no match: %d items continue %q", len(resp.Items), resp.Continue)
	}
}

// A continue token whose revision was compacted is Kubernetes' 410 Gone:
// OutOfRange here, as for a watch, telling the client to start again.
func TestListContinueAfterCompaction(t *testing.T) { bothWays(t, listContinueAfterCompaction) }

func listContinueAfterCompaction(t *testing.T, s *apitest.Server) {
	ctx := ctxT(t)
	makePods(t, ctx, s.Client, "default", 5)
	first, err := s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, Limit: 2})
	if err != nil || first.Continue == "" {
		t.Fatalf("first page: %v continue %q", err, first.GetContinue())
	}
	last, err := s.Client.Pods().Create(ctx, pod("later"))
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := strconv.ParseInt(last.Metadata.ResourceVersion, 10, 64)
	if err := s.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	_, err = s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, Limit: 2, Continue: first.Continue})
	wantCode(t, err, codes.OutOfRange, "continue parameter is too old")
	wantCode(t, err, codes.OutOfRange, "start a new list")

	// ListAll, meeting the same, lists everything again in one request.
	items, rv, err := client.ListAll(ctx, &compactingAPI{ObjectsClient: s.Client.API(), compact: func() {
		p, err := s.Client.Pods().Create(ctx, pod("during"))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := strconv.ParseInt(p.Metadata.ResourceVersion, 10, 64)
		if err := s.Compact(ctx, r); err != nil {
			t.Fatal(err)
		}
	}}, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(items); len(got) != 7 || !slices.Contains(got, "default/during") {
		t.Fatalf("after the fallback: %v at %s", got, rv)
	}
}

// compactingAPI runs compact once, after the first page is answered.
type compactingAPI struct {
	skiffv1.ObjectsClient
	compact func()
	done    bool
}

func (c *compactingAPI) List(ctx context.Context, req *skiffv1.ListRequest, opts ...grpc.CallOption) (*skiffv1.ListResponse, error) {
	resp, err := c.ObjectsClient.List(ctx, req, opts...)
	if err == nil && !c.done {
		c.done = true
		c.compact()
	}
	return resp, err
}

// A continue token continues only its own list; a bad limit or token is
// InvalidArgument naming the field, never a panic.
func TestListContinueOfAnotherListIsRefused(t *testing.T) {
	bothWays(t, listContinueOfAnotherListIsRefused)
}

func listContinueOfAnotherListIsRefused(t *testing.T, s *apitest.Server) {
	ctx := ctxT(t)
	createNamespace(t, ctx, s.Client, "team")
	makePods(t, ctx, s.Client, "default", 4)
	first, err := s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, Namespace: "default", LabelSelector: "app=web", Limit: 1})
	if err != nil || first.Continue == "" {
		t.Fatalf("first page: %v continue %q", err, first.GetContinue())
	}
	tok := first.Continue
	for name, req := range map[string]*skiffv1.ListRequest{
		"kind":      {Kind: skiffv1.Kind_KIND_SERVICE, Namespace: "default", LabelSelector: "app=web", Continue: tok},
		"namespace": {Kind: skiffv1.Kind_KIND_POD, Namespace: "team", LabelSelector: "app=web", Continue: tok},
		"all":       {Kind: skiffv1.Kind_KIND_POD, LabelSelector: "app=web", Continue: tok},
		"labels":    {Kind: skiffv1.Kind_KIND_POD, Namespace: "default", LabelSelector: "app=db", Continue: tok},
		"fields":    {Kind: skiffv1.Kind_KIND_POD, Namespace: "default", LabelSelector: "app=web", FieldSelector: "spec.nodeName=n1", Continue: tok},
		"garbage":   {Kind: skiffv1.Kind_KIND_POD, Continue: "not a token!"},
		"json":      {Kind: skiffv1.Kind_KIND_POD, Continue: base64.RawURLEncoding.EncodeToString([]byte(`{"v":"skiff/v1","rv":-1}`))},
		"future":    {Kind: skiffv1.Kind_KIND_POD, Continue: base64.RawURLEncoding.EncodeToString([]byte(`{"v":"skiff/v1","rv":999999,"start":"default/a","kind":"pods"}`))},
	} {
		_, err := s.Client.API().List(ctx, req)
		t.Run(name, func(t *testing.T) { wantCode(t, err, codes.InvalidArgument, "continue") })
	}
	_, err = s.Client.API().List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD, Limit: -1})
	wantCode(t, err, codes.InvalidArgument, "limit")
}
