package watchcache_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/watchcache"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// fallbacks reads the list fallback counter of a kind and reason.
func fallbacks(t *testing.T, reg *prometheus.Registry, kind, reason string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "skiff_apiserver_watch_cache_list_fallbacks_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == kind && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func names(items []skiffv1.Resource) []string {
	var out []string
	for _, o := range items {
		m := o.GetMetadata()
		out = append(out, m.GetNamespace()+"/"+m.GetName()+"="+o.(*skiffv1.ConfigMap).GetData()["v"])
	}
	return out
}

func create(t *testing.T, ctx context.Context, st *storage.Store, ns, name, v string) skiffv1.Resource {
	t.Helper()
	o, err := st.Create(ctx, configMap(ns, name, v), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// sameList says a page from the cache is the one etcd gives for the same
// request: items (with their revisions), revision, continue, remaining.
func sameList(t *testing.T, what string, got, want *storage.ListPage) {
	t.Helper()
	g, w := names(got.Items), names(want.Items)
	for i, o := range got.Items {
		g[i] += "@" + o.GetMetadata().GetResourceVersion()
	}
	for i, o := range want.Items {
		w[i] += "@" + o.GetMetadata().GetResourceVersion()
	}
	if !slices.Equal(g, w) || got.Revision != want.Revision || got.Continue != want.Continue || got.RemainingItemCount != want.RemainingItemCount {
		t.Fatalf("%s: the cache gave\n %v at %d, continue %q, remaining %d\netcd gives\n %v at %d, continue %q, remaining %d",
			what, g, got.Revision, got.Continue, got.RemainingItemCount, w, want.Revision, want.Continue, want.RemainingItemCount)
	}
	if got.Encoded != nil {
		sameEncoded(t, what, got)
	}
}

// sameEncoded says a page's encoded items are its items.
func sameEncoded(t *testing.T, what string, page *storage.ListPage) {
	t.Helper()
	if len(page.Encoded) != len(page.Items) {
		t.Fatalf("%s: %d encoded items for %d items", what, len(page.Encoded), len(page.Items))
	}
	for i, b := range page.Encoded {
		var o skiffv1.Object
		if err := proto.Unmarshal(b, &o); err != nil {
			t.Fatalf("%s: encoded item %d: %v", what, i, err)
		}
		if !proto.Equal(o.Unwrap(), page.Items[i]) {
			t.Fatalf("%s: encoded item %d is %v, the item %v", what, i, o.Unwrap(), page.Items[i])
		}
	}
}

// The cache's first list loads the kind from etcd; then creates, updates
// and deletes reach it through the watch, and each list equals etcd's at
// the same revision, with namespaces and selectors applied as etcd's path
// applies them — served from memory, no fallback.
func TestListFromCacheEqualsEtcd(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	for i := range 6 {
		create(t, ctx, st, []string{"a", "b"}[i%2], fmt.Sprintf("before%d", i), fmt.Sprint(i%3))
	}
	c, reg, _ := startCache(t, watchcache.Config{Source: st})
	odd := func(o skiffv1.Resource) bool { return o.(*skiffv1.ConfigMap).GetData()["v"] == "1" }
	compare := func(step string) {
		t.Helper()
		for _, ns := range []string{"", "a", "b", "none"} {
			for _, sel := range []storage.ListOptions{{}, {Match: odd, Selector: "v=1"}} {
				what := fmt.Sprintf("%s, namespace %q, selector %q", step, ns, sel.Selector)
				got, err := c.ListPage(ctx, cm, ns, sel)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				sel.Revision = got.Revision
				want, err := st.ListPage(ctx, cm, ns, sel)
				if err != nil {
					t.Fatal(err)
				}
				sameList(t, what, got, want)
				if got.Encoded == nil {
					t.Fatalf("%s: the cache's page has no encoded items to send", what)
				}
				if now, _ := st.CurrentRevision(ctx); got.Revision != now {
					t.Fatalf("%s: read at %d, etcd is at %d (nothing else writes)", what, got.Revision, now)
				}
			}
		}
	}
	compare("initial list")
	create(t, ctx, st, "a", "new", "1")
	compare("after a create")
	cur, err := st.Get(ctx, cm, "b", "before1")
	if err != nil {
		t.Fatal(err)
	}
	next := configMap("b", "before1", "1")
	if _, err := st.Update(ctx, next, storage.Revision(cur)); err != nil {
		t.Fatal(err)
	}
	compare("after an update")
	if _, err := st.Delete(ctx, cm, "a", "before0", 0, nil); err != nil {
		t.Fatal(err)
	}
	compare("after a delete")
	writes(t, ctx, st, "b", 30)
	compare("after many writes")
	if n := counter(t, reg, "skiff_apiserver_watch_cache_lists_total", "configmaps"); n != 40 {
		t.Errorf("lists served from the cache: %v, want 40", n)
	}
	if n := fallbacks(t, reg, "configmaps", "not_current"); n != 0 {
		t.Errorf("lists read from etcd: %v, want 0", n)
	}
}

// A list waits for the cache to reach etcd's revision: after a write of
// another kind, which no ConfigMap event reports, the cache asks etcd for
// progress and answers at that revision or later, from memory.
func TestListWaitsForEtcdRevisionOfAnIdleKind(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	create(t, ctx, st, "a", "x", "1")
	c, reg, _ := startCache(t, watchcache.Config{Source: st})
	if _, err := c.ListPage(ctx, cm, "", storage.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		sec, err := st.Create(ctx, &skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Namespace: "a", Name: fmt.Sprint("s", i)}}, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		page, err := c.ListPage(ctx, cm, "", storage.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if page.Revision < storage.Revision(sec) || len(page.Items) != 1 {
			t.Fatalf("list after a write at %d read at %d with %d items", storage.Revision(sec), page.Revision, len(page.Items))
		}
	}
	if n := fallbacks(t, reg, "configmaps", "not_current"); n != 0 {
		t.Errorf("lists read from etcd: %v, want 0", n)
	}
}

// silentSource never answers a progress request: an idle kind's cache
// cannot learn that it is current.
type silentSource struct{ *storage.Store }

func (silentSource) RequestProgress(context.Context) error { return nil }

// When the cache cannot show it is current within ConsistentReadTimeout,
// the list is read from etcd: still consistent, only slower.
func TestListFallsBackToEtcdWhenTheCacheIsBehind(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	create(t, ctx, st, "a", "x", "1")
	c, reg, _ := startCache(t, watchcache.Config{Source: silentSource{st}, ConsistentReadTimeout: 200 * time.Millisecond})
	if _, err := c.ListPage(ctx, cm, "", storage.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	sec, err := st.Create(ctx, &skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Namespace: "a", Name: "s"}}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	page, err := c.ListPage(ctx, cm, "", storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if page.Revision < storage.Revision(sec) || !slices.Equal(names(page.Items), []string{"a/x=1"}) {
		t.Fatalf("fallback list: %v at %d, want a/x=1 at %d or later", names(page.Items), page.Revision, storage.Revision(sec))
	}
	if n := fallbacks(t, reg, "configmaps", "not_current"); n != 1 {
		t.Errorf("lists read from etcd: %v, want 1", n)
	}
	// A ConfigMap write moves the cache on: memory again.
	create(t, ctx, st, "a", "y", "2")
	if _, err := c.ListPage(ctx, cm, "", storage.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := fallbacks(t, reg, "configmaps", "not_current"); n != 1 {
		t.Errorf("lists read from etcd after a ConfigMap write: %v, want still 1", n)
	}
}

// page reads every page of a list with src, the first from first, and
// returns the pages.
func pages(t *testing.T, ctx context.Context, list func(string) (*storage.ListPage, error), between func(i int)) []*storage.ListPage {
	t.Helper()
	var out []*storage.ListPage
	cont := ""
	for i := 0; ; i++ {
		p, err := list(cont)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		out = append(out, p)
		if cont = p.Continue; cont == "" {
			return out
		}
		between(i)
	}
}

// Pages from the cache are one snapshot while the kind changes between
// them, and page for page what etcd gives for the same tokens: tokens of
// either path continue on the other.
func TestPagedListFromSnapshot(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	for i := range 25 {
		create(t, ctx, st, []string{"a", "b", "c"}[i%3], fmt.Sprintf("p%02d", i), fmt.Sprint(i%2))
	}
	c, reg, _ := startCache(t, watchcache.Config{Source: st})
	odd := func(o skiffv1.Resource) bool { return o.(*skiffv1.ConfigMap).GetData()["v"] == "1" }
	n := 0
	for _, tc := range []struct {
		ns   string
		opts storage.ListOptions
	}{
		{"", storage.ListOptions{Limit: 7}},
		{"b", storage.ListOptions{Limit: 3}},
		{"", storage.ListOptions{Limit: 4, Match: odd, Selector: "v=1"}},
		{"c", storage.ListOptions{Limit: 1, Match: odd, Selector: "v=1"}},
	} {
		name := fmt.Sprintf("ns %q limit %d selector %q", tc.ns, tc.opts.Limit, tc.opts.Selector)
		got := pages(t, ctx, func(cont string) (*storage.ListPage, error) {
			o := tc.opts
			o.Continue = cont
			return c.ListPage(ctx, cm, tc.ns, o)
		}, func(int) {
			// The world moves on between pages.
			n++
			create(t, ctx, st, tc.ns+"a", fmt.Sprint("between", n), "1")
		})
		// etcd, asked with the same tokens, gives the same pages.
		for i, p := range got {
			o := tc.opts
			if i > 0 {
				o.Continue = got[i-1].Continue
			} else {
				o.Revision = p.Revision
			}
			want, err := st.ListPage(ctx, cm, tc.ns, o)
			if err != nil {
				t.Fatal(err)
			}
			sameList(t, fmt.Sprintf("%s, page %d", name, i), p, want)
		}
	}
	if n := fallbacks(t, reg, "configmaps", "snapshot_gone"); n != 0 {
		t.Errorf("pages read from etcd: %v, want 0", n)
	}
	// A token from etcd continues from the cache, and the other way.
	first, err := st.ListPage(ctx, cm, "", storage.ListOptions{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	fromCache, err := c.ListPage(ctx, cm, "", storage.ListOptions{Limit: 5, Continue: first.Continue})
	if err != nil {
		t.Fatal(err)
	}
	fromEtcd, err := st.ListPage(ctx, cm, "", storage.ListOptions{Limit: 5, Continue: first.Continue})
	if err != nil {
		t.Fatal(err)
	}
	sameList(t, "etcd's token", fromCache, fromEtcd)
}

// A snapshot no longer kept sends its later pages to etcd, which reads at
// the token's revision: the same pages. A token whose revision was
// compacted is expired on both paths, kept snapshot or not.
func TestSnapshotExpiryAndCompaction(t *testing.T) {
	st := startStore(t)
	ctx := ctxT(t)
	for i := range 10 {
		create(t, ctx, st, "a", fmt.Sprintf("p%02d", i), "0")
	}
	c, reg, _ := startCache(t, watchcache.Config{Source: st, SnapshotTTL: time.Nanosecond})
	n := 0
	got := pages(t, ctx, func(cont string) (*storage.ListPage, error) {
		return c.ListPage(ctx, cm, "", storage.ListOptions{Limit: 4, Continue: cont})
	}, func(int) {
		n++
		create(t, ctx, st, "a", fmt.Sprint("between", n), "1")
		// A list waits until the cache has the write: the token's
		// revision is then neither kept nor current.
		if _, err := c.ListPage(ctx, cm, "none", storage.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	laterPagesFromEtcd(t, reg, got)

	c2, _, _ := startCache(t, watchcache.Config{Source: st})
	first, err := c2.ListPage(ctx, cm, "", storage.ListOptions{Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	last := create(t, ctx, st, "a", "later", "0")
	if err := st.Compact(ctx, storage.Revision(last)); err != nil {
		t.Fatal(err)
	}
	_, cerr := c2.ListPage(ctx, cm, "", storage.ListOptions{Limit: 4, Continue: first.Continue})
	_, eerr := st.ListPage(ctx, cm, "", storage.ListOptions{Limit: 4, Continue: first.Continue})
	if !errors.Is(cerr, storage.ErrContinueExpired) || !errors.Is(eerr, storage.ErrContinueExpired) {
		t.Fatalf("compacted token: cache %v, etcd %v; want ErrContinueExpired from both", cerr, eerr)
	}
	// Malformed tokens and bad limits: the same errors both ways.
	for _, opts := range []storage.ListOptions{{Continue: "garbage"}, {Limit: -1}, {Continue: first.Continue, Selector: "other"}} {
		_, cerr := c2.ListPage(ctx, cm, "", opts)
		_, eerr := st.ListPage(ctx, cm, "", opts)
		if cerr == nil || eerr == nil || cerr.Error() != eerr.Error() {
			t.Fatalf("%+v: cache %v, etcd %v", opts, cerr, eerr)
		}
	}
}

// laterPagesFromEtcd checks a paged list of the 10 ConfigMaps whose two
// later pages etcd served: every page at one revision, every item once.
func laterPagesFromEtcd(t *testing.T, reg *prometheus.Registry, got []*storage.ListPage) {
	t.Helper()
	var all []string
	for _, p := range got {
		if p.Revision != got[0].Revision {
			t.Fatalf("pages read at %d and %d", got[0].Revision, p.Revision)
		}
		all = append(all, names(p.Items)...)
	}
	if n := fallbacks(t, reg, "configmaps", "snapshot_gone"); len(all) != 10 || n != 2 {
		t.Fatalf("pages: %v, %v later ones from etcd (want 10 items, 2 from etcd)", all, n)
	}
}

// cacheBehindOnConfigMaps is a cache over 10 ConfigMaps of namespace a
// (p00…p09) that cannot show in time that it is current: its source
// sends no progress, and the last write, another kind's, is past the
// ConfigMaps' revision. A list's first page then comes from etcd after
// waiting wait.
func cacheBehindOnConfigMaps(t *testing.T, wait time.Duration) (*storage.Store, *watchcache.Cache, *prometheus.Registry) {
	t.Helper()
	st := startStore(t)
	ctx := ctxT(t)
	for i := range 10 {
		create(t, ctx, st, "a", fmt.Sprintf("p%02d", i), "0")
	}
	c, reg, _ := startCache(t, watchcache.Config{Source: silentSource{st}, ConsistentReadTimeout: wait})
	if _, err := c.ListPage(ctx, cm, "", storage.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(ctx, &skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Namespace: "a", Name: "s"}}, nil, 0); err != nil {
		t.Fatal(err)
	}
	return st, c, reg
}

// A paged list whose first page was read from etcd, because the cache
// could not show in time that it was current, reads its later pages from
// the cache once the cache has caught up with the first page's revision:
// the snapshot at that revision, not etcd for every page. Before, one
// slow first page sent the whole list to etcd.
func TestPagesAfterAnEtcdFirstPageComeFromTheCache(t *testing.T) {
	st, c, reg := cacheBehindOnConfigMaps(t, 200*time.Millisecond)
	ctx := ctxT(t)
	n := 0
	got := pages(t, ctx, func(cont string) (*storage.ListPage, error) {
		return c.ListPage(ctx, cm, "", storage.ListOptions{Limit: 4, Continue: cont})
	}, func(int) {
		// A ConfigMap written after the first page's revision moves the
		// cache past it; the pages must not show it.
		n++
		create(t, ctx, st, "a", fmt.Sprint("between", n), "1")
	})
	if f := fallbacks(t, reg, "configmaps", "not_current"); f != 1 {
		t.Fatalf("first pages read from etcd: %v, want 1", f)
	}
	for i, p := range got {
		o := storage.ListOptions{Limit: 4}
		if i > 0 {
			o.Continue = got[i-1].Continue
		} else {
			o.Revision = p.Revision
		}
		want, err := st.ListPage(ctx, cm, "", o)
		if err != nil {
			t.Fatal(err)
		}
		sameList(t, fmt.Sprintf("page %d", i), p, want)
	}
	if f := fallbacks(t, reg, "configmaps", "snapshot_gone"); f != 0 {
		t.Errorf("later pages read from etcd: %v, want 0 (from the cache's snapshot at the first page's revision)", f)
	}
	if len(got) != 3 {
		t.Errorf("%d pages, want 3 (10 ConfigMaps in pages of 4)", len(got))
	}
}

// When the cache does not reach the first page's revision in time, the
// later pages come from etcd at that revision: the same pages.
func TestPagesAfterAnEtcdFirstPageWhenTheCacheStaysBehind(t *testing.T) {
	_, c, reg := cacheBehindOnConfigMaps(t, 100*time.Millisecond)
	ctx := ctxT(t)
	got := pages(t, ctx, func(cont string) (*storage.ListPage, error) {
		return c.ListPage(ctx, cm, "", storage.ListOptions{Limit: 4, Continue: cont})
	}, func(int) {})
	laterPagesFromEtcd(t, reg, got)
}
