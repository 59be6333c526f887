package apiserver_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func inProcess(t *testing.T, s *apitest.Server) *apiserver.InProcessReads {
	t.Helper()
	reads, ok := s.InProcessReads()
	if !ok {
		t.Fatal("a server with a watch cache has no in-process reads")
	}
	return reads
}

// runInformer runs inf until the test ends and waits for its first list.
func runInformer[T skiffv1.Resource](t *testing.T, ctx context.Context, inf *client.Informer[T]) {
	t.Helper()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); inf.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	if !inf.WaitForSync(ctx) {
		t.Fatal("informer not synced")
	}
}

// eventLog records what an informer's handlers saw, in order.
type eventLog struct {
	mu    sync.Mutex
	lines []string
}

func describePod(p *skiffv1.Pod) string {
	m := p.GetMetadata()
	return m.GetNamespace() + "/" + m.GetName() + " tier=" + m.GetLabels()["tier"] + " rv=" + m.GetResourceVersion()
}

func (l *eventLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *eventLog) handler() client.Handler[*skiffv1.Pod] {
	return client.Handler[*skiffv1.Pod]{
		OnAdd:    func(p *skiffv1.Pod) { l.add("add " + describePod(p)) },
		OnUpdate: func(old, p *skiffv1.Pod) { l.add("update " + describePod(old) + " -> " + describePod(p)) },
		OnDelete: func(p *skiffv1.Pod) { l.add("delete " + describePod(p)) },
	}
}

func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An informer reading in process holds the watch cache's objects
// themselves: the very pointers a list from the cache returns, before and
// after a change; one reading over gRPC holds copies.
func TestInProcessInformerHoldsTheCachesObjects(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	reads := inProcess(t, s)
	pods := s.Client.Pods()
	for _, name := range []string{"a", "b"} {
		if _, err := pods.Create(ctx, pod(name)); err != nil {
			t.Fatal(err)
		}
	}
	local := client.NewInformerFrom[*skiffv1.Pod](reads, client.ListOptions{}, nil)
	runInformer(t, ctx, local)
	remote := client.NewInformer(pods, client.ListOptions{}, nil)
	runInformer(t, ctx, remote)

	cached := func() map[string]*skiffv1.Pod {
		t.Helper()
		resp, err := reads.List(ctx, &skiffv1.ListRequest{Kind: skiffv1.Kind_KIND_POD})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*skiffv1.Pod{}
		for _, o := range resp.Items {
			p := o.GetPod()
			out[client.KeyOf(p)] = p
		}
		return out
	}
	same := func(when string) {
		t.Helper()
		for key, p := range cached() {
			held, ok := local.Get(key)
			if !ok || held != p {
				t.Fatalf("%s: the in-process informer's %s is not the watch cache's object (held %p, cache %p)", when, key, held, p)
			}
			if copied, _ := remote.Get(key); copied == p {
				t.Fatalf("%s: the gRPC informer's %s is the cache's object", when, key)
			}
		}
	}
	same("after the list")
	updated, err := pods.Modify(ctx, "default", "a", func(p *skiffv1.Pod) error {
		p.Metadata.Labels["tier"] = "front"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the informer sees the update", func() bool {
		p, _ := local.Get("default/a")
		return p.GetMetadata().GetResourceVersion() == updated.Metadata.ResourceVersion
	})
	same("after a watched update")
}

// In process and over gRPC, informers with the same selectors tell their
// handlers the same changes in the same order, and raw watches give the
// same events: objects starting and stopping to match, namespaces,
// updates, and deletes carrying the object as it was last.
func TestInProcessReadsSameAsGRPC(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	reads := inProcess(t, s)
	pods := s.Client.Pods()
	if _, err := s.Client.Namespaces().Create(ctx, &skiffv1.Namespace{Metadata: &skiffv1.ObjectMeta{Name: "other"}}); err != nil {
		t.Fatal(err)
	}
	withTier := func(ns, name, tier string) *skiffv1.Pod {
		p := pod(name)
		p.Metadata.Namespace = ns
		p.Metadata.Labels["tier"] = tier
		return p
	}
	first, err := pods.Create(ctx, withTier("default", "early", "front"))
	if err != nil {
		t.Fatal(err)
	}
	selections := []client.ListOptions{
		{},
		{Namespace: "default", LabelSelector: "tier=front"},
		{FieldSelector: "metadata.name=web2"},
	}
	type pair struct{ local, remote *eventLog }
	logs := make([]pair, len(selections))
	for i, opts := range selections {
		logs[i] = pair{&eventLog{}, &eventLog{}}
		local := client.NewInformerFrom[*skiffv1.Pod](reads, opts, nil)
		local.AddHandler(logs[i].local.handler())
		runInformer(t, ctx, local)
		remote := client.NewInformer(pods, opts, nil)
		remote.AddHandler(logs[i].remote.handler())
		runInformer(t, ctx, remote)
	}
	// Raw watches from the revision of the first write, both ways.
	req := &skiffv1.WatchRequest{Kind: skiffv1.Kind_KIND_POD, ResourceVersion: first.Metadata.ResourceVersion}
	recvLocal, err := reads.Watch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	remoteWatch, err := pods.Watch(ctx, client.ListOptions{}, first.Metadata.ResourceVersion)
	if err != nil {
		t.Fatal(err)
	}
	defer remoteWatch.Stop()

	web1, err := pods.Create(ctx, withTier("default", "web1", "front"))
	if err != nil {
		t.Fatal(err)
	}
	web2, err := pods.Create(ctx, withTier("default", "web2", "back"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, withTier("other", "web3", "front")); err != nil {
		t.Fatal(err)
	}
	relabel := func(p *skiffv1.Pod, tier string) *skiffv1.Pod {
		t.Helper()
		p.Metadata.Labels["tier"] = tier
		out, err := pods.Update(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	web2a := relabel(web2, "front") // starts matching tier=front
	relabel(web1, "back")           // stops matching it
	web2b := relabel(web2a, "front2")
	web2 = relabel(web2b, "front")
	if _, _, err := pods.Delete(ctx, "default", "web2", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	lastDelete := "delete default/web2 tier=front rv=" + web2.Metadata.ResourceVersion

	for i, opts := range selections {
		p := logs[i]
		eventually(t, fmt.Sprintf("%+v: both informers see web2 deleted", opts), func() bool {
			l, r := p.local.get(), p.remote.get()
			return len(l) > 0 && len(r) > 0 && l[len(l)-1] == lastDelete && r[len(r)-1] == lastDelete
		})
		if l, r := strings.Join(p.local.get(), "\n"), strings.Join(p.remote.get(), "\n"); l != r {
			t.Errorf("%+v: in process the handlers saw\n%s\nover gRPC\n%s", opts, l, r)
		}
	}
	want := []string{
		"add default/early tier=front rv=" + first.Metadata.ResourceVersion,
		"add default/web1 tier=front rv=" + web1.Metadata.ResourceVersion,
		"add default/web2 tier=front rv=" + web2a.Metadata.ResourceVersion,
		"delete default/web1 tier=front rv=" + web1.Metadata.ResourceVersion,
		"delete default/web2 tier=front rv=" + web2a.Metadata.ResourceVersion,
		"add default/web2 tier=front rv=" + web2.Metadata.ResourceVersion,
		lastDelete,
	}
	if got := strings.Join(logs[1].local.get(), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("tier=front in default saw\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}

	// The raw watches: every event the same, the delete with the last
	// object and the deletion's revision.
	var local, remote []string
	describe := func(ev *skiffv1.WatchEvent) string {
		return ev.Type.String() + " " + describePod(ev.Object.GetPod()) + " at " + ev.ResourceVersion
	}
	for len(local) < 8 {
		ev, err := recvLocal()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != skiffv1.WatchEvent_BOOKMARK {
			local = append(local, describe(ev))
		}
	}
	for len(remote) < 8 {
		ev, err := remoteWatch.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != skiffv1.WatchEvent_BOOKMARK {
			remote = append(remote, ev.Type.String()+" "+describePod(ev.Object)+" at "+ev.ResourceVersion)
		}
	}
	if strings.Join(local, "\n") != strings.Join(remote, "\n") {
		t.Fatalf("in process the watch gave\n%s\nover gRPC\n%s", strings.Join(local, "\n"), strings.Join(remote, "\n"))
	}
	del := local[7]
	if !strings.HasPrefix(del, "DELETED default/web2 tier=front rv=") {
		t.Fatalf("the last event is %q, want web2 deleted as it was last", del)
	}
}

// An in-process informer whose watch fell further behind than the cache
// queues for it is ended (ResourceExhausted, as over gRPC) and resumes
// from the revision it reached, from the cache: every object arrives exactly
// once, with no list after the first.
func TestInProcessInformerResumesAfterTooSlow(t *testing.T) {
	s := apitest.Start(t, func(c *apiserver.Config) { c.WatchCacheQueue = 10 })
	ctx := ctxT(t)
	cms := s.Client.ConfigMaps()
	inf := client.NewInformerFrom[*skiffv1.ConfigMap](inProcess(t, s), client.ListOptions{Namespace: "default"}, nil)
	release := make(chan struct{})
	var mu sync.Mutex
	added := map[string]int{}
	inf.AddHandler(client.Handler[*skiffv1.ConfigMap]{OnAdd: func(cm *skiffv1.ConfigMap) {
		<-release // the first one holds the informer up until the writes are done
		mu.Lock()
		added[cm.Metadata.Name]++
		mu.Unlock()
	}})
	runInformer(t, ctx, inf)
	listed := listsServed(t, s, "configmaps")
	n := 0
	for slowEnded(t, s) == 0 {
		if n == 3000 {
			t.Fatal("3,000 writes and the informer that does not read is still being served")
		}
		cm := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: fmt.Sprintf("cm%04d", n), Namespace: "default"}, Data: map[string]string{"n": strconv.Itoa(n)}}
		if _, err := cms.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
		n++
	}
	// It has the room a gRPC stream's buffers would give it, not just the
	// cache's queue: 16 times as much.
	if n < 10*16 {
		t.Errorf("the in-process watch was ended %d events behind, with a queue of 10", n)
	}
	close(release)
	eventually(t, fmt.Sprintf("the informer has all %d ConfigMaps", n), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(added) == n
	})
	mu.Lock()
	defer mu.Unlock()
	for name, times := range added {
		if times != 1 {
			t.Errorf("%s added %d times", name, times)
		}
	}
	if l := listsServed(t, s, "configmaps"); l != listed {
		t.Errorf("%v lists after the first: the informer should resume from the cache, not list again", l-listed)
	}
}

// An in-process informer whose revision was compacted away while it was
// stopped lists again (OutOfRange, as over gRPC), tells its handlers what
// it missed, deletes included, and follows live changes after.
func TestInProcessInformerRelistsAfterCompaction(t *testing.T) {
	s := apitest.Start(t)
	ctx := ctxT(t)
	cms := s.Client.ConfigMaps()
	cm := func(name string) *skiffv1.ConfigMap {
		return &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string]string{"v": "1"}}
	}
	for _, name := range []string{"a", "b", "c"} {
		if _, err := cms.Create(ctx, cm(name)); err != nil {
			t.Fatal(err)
		}
	}
	inf := client.NewInformerFrom[*skiffv1.ConfigMap](inProcess(t, s), client.ListOptions{}, nil)
	var mu sync.Mutex
	live := map[string]string{}
	deleted := []string{}
	inf.AddHandler(client.Handler[*skiffv1.ConfigMap]{
		OnAdd:    func(c *skiffv1.ConfigMap) { mu.Lock(); live[c.Metadata.Name] = c.Data["v"]; mu.Unlock() },
		OnUpdate: func(_, c *skiffv1.ConfigMap) { mu.Lock(); live[c.Metadata.Name] = c.Data["v"]; mu.Unlock() },
		OnDelete: func(c *skiffv1.ConfigMap) {
			mu.Lock()
			delete(live, c.Metadata.Name)
			deleted = append(deleted, c.Metadata.Name+"="+c.Data["v"])
			mu.Unlock()
		},
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); inf.Run(runCtx) }()
	if !inf.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	// The informer stops (a paused process); meanwhile the world changes
	// and the history it would resume from is compacted away.
	stop()
	<-done
	if _, _, err := cms.Delete(ctx, "default", "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Modify(ctx, "default", "b", func(c *skiffv1.ConfigMap) error { c.Data["v"] = "2"; return nil }); err != nil {
		t.Fatal(err)
	}
	last, err := cms.Create(ctx, cm("d"))
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := strconv.ParseInt(last.Metadata.ResourceVersion, 10, 64)
	if err := s.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	w, err := inProcess(t, s).Watch(ctx, &skiffv1.WatchRequest{Kind: skiffv1.Kind_KIND_CONFIG_MAP, ResourceVersion: inf.ResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w(); !client.IsCompacted(err) {
		t.Fatalf("an in-process watch from a compacted revision got %v, want OutOfRange", err)
	}
	runInformer(t, ctx, inf)
	eventually(t, "the informer has the server's state", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprint(live) == fmt.Sprint(map[string]string{"b": "2", "c": "1", "d": "1"})
	})
	mu.Lock()
	if fmt.Sprint(deleted) != "[a=1]" {
		t.Errorf("deletes told: %v, want [a=1]", deleted)
	}
	mu.Unlock()
	if _, err := cms.Create(ctx, cm("e")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a live change after the relist", func() bool { _, ok := inf.Get("default/e"); return ok })
}

// Without a watch cache there is nothing to share: the server offers no
// in-process reads and its components read over gRPC.
func TestNoInProcessReadsWithoutWatchCache(t *testing.T) {
	s := apitest.Start(t, func(c *apiserver.Config) { c.DisableWatchCache = true })
	if _, ok := s.InProcessReads(); ok {
		t.Fatal("a server without a watch cache offers in-process reads")
	}
}
