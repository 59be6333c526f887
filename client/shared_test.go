package client_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func createServices(t *testing.T, ctx context.Context, c *client.Client, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := c.Services().Create(ctx, svc(n)); err != nil {
			t.Fatal(err)
		}
	}
}

// eventually waits up to 30 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sameAs(t *testing.T, ctx context.Context, c *client.Client, rec *recorder) func() bool {
	return func() bool { return equalMaps(rec.snapshot(), serverState(t, ctx, c)) }
}

// Two scopes of one set read one informer; a handler added once it holds
// objects is told of each at once, then of later changes; a closed
// scope's handler hears nothing more while the other's still does.
func TestSharedInformerReplaysToLateHandlerAndStopsOnClose(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createServices(t, ctx, s.Client, "a", "b", "c")
	set := client.NewSharedInformers(s.Client, nil)

	first := set.NewScope()
	defer first.Close()
	inf1 := client.Inform(first, (*client.Client).Services, client.ListOptions{})
	rec1 := &recorder{live: map[string]string{}}
	inf1.AddHandler(rec1.handler())
	first.Start()
	if !inf1.WaitForSync(ctx) {
		t.Fatal("no sync")
	}

	late := set.NewScope()
	inf2 := client.Inform(late, (*client.Client).Services, client.ListOptions{})
	if got := len(inf2.List()); got != 3 {
		t.Fatalf("the second scope's informer holds %d services before its Start, want the shared 3", got)
	}
	rec2 := &recorder{live: map[string]string{}}
	inf2.AddHandler(rec2.handler())
	if got := keys(rec2.snapshot()); strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("late handler was told of %v on AddHandler, want a,b,c", got)
	}
	late.Start()
	createServices(t, ctx, s.Client, "d")
	eventually(t, "both handlers to see d", func() bool { return len(rec1.snapshot()) == 4 && len(rec2.snapshot()) == 4 })

	late.Close()
	before := rec2.snapshot()
	createServices(t, ctx, s.Client, "e")
	if _, _, err := s.Client.Services().Delete(ctx, "default", "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the remaining handler to see e and a's deletion", sameAs(t, ctx, s.Client, rec1))
	if after := rec2.snapshot(); !equalMaps(before, after) || rec2.deletes != 0 {
		t.Fatalf("closed scope's handler kept hearing: %v → %v, %d deletes", keys(before), keys(after), rec2.deletes)
	}
	if _, ok := inf1.Get("default/e"); !ok {
		t.Fatal("the informer stopped when one of its two scopes closed")
	}
}

// A handler added while changes stream in misses none and sees none
// twice: it ends with the server's state.
func TestSharedInformerLateHandlerDuringChanges(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	set := client.NewSharedInformers(s.Client, nil)
	first := set.NewScope()
	defer first.Close()
	inf := client.Inform(first, (*client.Client).Services, client.ListOptions{})
	first.Start()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 40 {
			if _, err := s.Client.Services().Create(ctx, svc(fmt.Sprintf("s%d", i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	eventually(t, "some services", func() bool { return len(inf.List()) >= 10 })
	late := set.NewScope()
	defer late.Close()
	rec := &recorder{live: map[string]string{}}
	adds := map[string]int{}
	var mu sync.Mutex
	h := rec.handler()
	onAdd := h.OnAdd
	h.OnAdd = func(x *skiffv1.Service) {
		mu.Lock()
		adds[x.Metadata.Name]++
		mu.Unlock()
		onAdd(x)
	}
	client.Inform(late, (*client.Client).Services, client.ListOptions{}).AddHandler(h)
	wg.Wait()
	eventually(t, "the late handler to hold the server's state", sameAs(t, ctx, s.Client, rec))
	mu.Lock()
	defer mu.Unlock()
	for name, n := range adds {
		if n != 1 {
			t.Errorf("%s added %d times", name, n)
		}
	}
	if len(adds) != 40 {
		t.Errorf("%d adds, want 40", len(adds))
	}
}

// Components' indexes live side by side on one informer; a name taken is
// refused (not silently shared), and freed when its scope closes.
func TestSharedInformerIndexesOfTwoScopes(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createServices(t, ctx, s.Client, "a", "b")
	set := client.NewSharedInformers(s.Client, nil)
	one, two := set.NewScope(), set.NewScope()
	defer one.Close()
	inf1 := client.Inform(one, (*client.Client).Services, client.ListOptions{})
	if err := inf1.AddIndex("one/app", func(x *skiffv1.Service) []string { return []string{x.Metadata.Labels["app"]} }); err != nil {
		t.Fatal(err)
	}
	one.Start()
	if !inf1.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	// Added after the informer holds objects: filed at once.
	inf2 := client.Inform(two, (*client.Client).Services, client.ListOptions{})
	if err := inf2.AddIndex("two/name", func(x *skiffv1.Service) []string { return []string{x.Metadata.Name} }); err != nil {
		t.Fatal(err)
	}
	err := inf2.AddIndex("one/app", func(x *skiffv1.Service) []string { return nil })
	if err == nil || !strings.Contains(err.Error(), `"one/app"`) {
		t.Fatalf("second index under a taken name: err = %v, want one naming it", err)
	}
	if got := len(inf1.ByIndex("one/app", "web")); got != 2 {
		t.Fatalf("one/app=web has %d, want 2 (the other scope's attempt must not replace it)", got)
	}
	if got := inf2.ByIndex("two/name", "b"); len(got) != 1 || got[0].Metadata.Name != "b" {
		t.Fatalf("two/name=b = %v", got)
	}
	createServices(t, ctx, s.Client, "c")
	eventually(t, "c in both indexes", func() bool {
		return len(inf1.ByIndex("one/app", "web")) == 3 && len(inf2.ByIndex("two/name", "c")) == 1
	})
	two.Close()
	if got := len(inf1.ByIndex("two/name", "c")); got != 0 {
		t.Fatalf("a closed scope's index still answers (%d)", got)
	}
	again := set.NewScope()
	defer again.Close()
	if err := client.Inform(again, (*client.Client).Services, client.ListOptions{}).AddIndex("two/name", func(x *skiffv1.Service) []string { return []string{x.Metadata.Name} }); err != nil {
		t.Fatalf("the name of a closed scope's index: %v", err)
	}
}

// A leader-elected component that loses and regains leadership (a scope
// closed, a new one opened) while another keeps the informer running is
// told of exactly what exists, changes made while it was away included;
// with no scope left the informer stops, and the next one lists afresh.
func TestSharedInformerLeadershipLostAndRegained(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createServices(t, ctx, s.Client, "a", "b")
	set := client.NewSharedInformers(s.Client, nil)
	keep := set.NewScope()
	kept := client.Inform(keep, (*client.Client).Services, client.ListOptions{})
	keep.Start()

	term := func() (*client.InformerScope, *recorder) {
		sc := set.NewScope()
		rec := &recorder{live: map[string]string{}}
		inf := client.Inform(sc, (*client.Client).Services, client.ListOptions{})
		inf.AddHandler(rec.handler())
		sc.Start()
		if !inf.WaitForSync(ctx) {
			t.Fatal("no sync")
		}
		return sc, rec
	}
	sc, rec := term()
	eventually(t, "the first term's handler to hold the server's state", sameAs(t, ctx, s.Client, rec))
	sc.Close() // leadership lost
	if _, _, err := s.Client.Services().Delete(ctx, "default", "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	createServices(t, ctx, s.Client, "c")
	eventually(t, "the kept scope to see the changes", func() bool {
		_, gone := kept.Get("default/a")
		_, got := kept.Get("default/c")
		return !gone && got
	})
	sc, rec = term() // regained
	if got := strings.Join(keys(rec.snapshot()), ","); got != "b,c" {
		t.Fatalf("second term was told of %v, want b,c", got)
	}
	if rec.deletes != 0 {
		t.Fatalf("second term was told of %d deletes of objects it never saw", rec.deletes)
	}
	sc.Close()
	keep.Close()

	// Nobody holds it: stopped and dropped; a new scope's informer lists.
	createServices(t, ctx, s.Client, "d")
	sc, rec = term()
	defer sc.Close()
	if got := strings.Join(keys(rec.snapshot()), ","); got != "b,c,d" {
		t.Fatalf("after every scope closed, a new one was told of %v, want b,c,d", got)
	}
	if _, ok := kept.Get("default/d"); ok {
		t.Fatal("the stopped informer still follows changes")
	}
}

// With KeepRunning, an informer whose last scope closed (leadership lost)
// keeps following changes, and the next term's scope gets that very
// informer, its objects held before Start: nothing is listed again. Stop
// ends it.
func TestSharedInformerKeptRunningAcrossTerms(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createServices(t, ctx, s.Client, "a", "b")
	set := client.NewSharedInformers(s.Client, nil)
	set.KeepRunning()

	first := set.NewScope()
	inf1 := client.Inform(first, (*client.Client).Services, client.ListOptions{})
	first.Start()
	if !inf1.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	first.Close() // leadership lost
	createServices(t, ctx, s.Client, "c")
	eventually(t, "the informer no scope holds to follow a change", func() bool {
		_, ok := inf1.Get("default/c")
		return ok
	})

	second := set.NewScope()
	inf2 := client.Inform(second, (*client.Client).Services, client.ListOptions{})
	if !inf2.HasSynced() || len(inf2.List()) != 3 {
		t.Fatalf("the next term's informer before Start: synced %v, %d objects; want the kept one's 3", inf2.HasSynced(), len(inf2.List()))
	}
	rec := &recorder{live: map[string]string{}}
	inf2.AddHandler(rec.handler())
	second.Start()
	if got := strings.Join(keys(rec.snapshot()), ","); got != "a,b,c" {
		t.Fatalf("the next term was told of %v, want a,b,c", got)
	}
	second.Close()

	set.Stop()
	createServices(t, ctx, s.Client, "d")
	time.Sleep(300 * time.Millisecond)
	if _, ok := inf1.Get("default/d"); ok {
		t.Fatal("the informer still follows changes after Stop")
	}
	third := set.NewScope()
	defer third.Close()
	if inf3 := client.Inform(third, (*client.Client).Services, client.ListOptions{}); inf3.HasSynced() {
		t.Fatal("after Stop a new scope got the stopped informer")
	}
}

// Different list options are different informers.
func TestSharedInformerKeyedByOptions(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createServices(t, ctx, s.Client, "a")
	set := client.NewSharedInformers(s.Client, nil)
	sc := set.NewScope()
	defer sc.Close()
	all := client.Inform(sc, (*client.Client).Services, client.ListOptions{})
	none := client.Inform(sc, (*client.Client).Services, client.ListOptions{LabelSelector: "app=none"})
	sc.Start()
	if !all.WaitForSync(ctx) || !none.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	if len(all.List()) != 1 || len(none.List()) != 0 {
		t.Fatalf("all has %d, app=none has %d; want 1 and 0", len(all.List()), len(none.List()))
	}
}

// A user that modifies a cached object in place is caught when the
// object next changes: in tests, informers keep each object's encoding.
func TestInformerCatchesMutation(t *testing.T) {
	s, ctx, found := mutationCheckServer(t)
	inf := client.NewInformer(s.Client.Services(), client.ListOptions{}, nil)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { inf.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	if !inf.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	mutateAndExpectReport(ctx, t, s.Client, inf.Get, found)
}

// The mutation check covers informers reading in the API server's
// process too, where a cached object is the watch cache's own and one
// modified in place would corrupt what the server serves everyone.
func TestInProcessInformerCatchesMutation(t *testing.T) {
	s, ctx, found := mutationCheckServer(t)
	reads, ok := s.InProcessReads()
	if !ok {
		t.Fatal("no in-process reads")
	}
	set := client.NewSharedInformersFrom(s.Client, reads, reads.Serves, nil)
	scope := set.NewScope()
	defer scope.Close()
	inf := client.Inform(scope, (*client.Client).Services, client.ListOptions{})
	scope.Start()
	if !inf.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	mutateAndExpectReport(ctx, t, s.Client, inf.Get, found)
}

// A set reading in process still reads the kinds its source does not
// serve over gRPC.
func TestSharedInformersFallBackToGRPC(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	createServices(t, ctx, s.Client, "a")
	reads, _ := s.InProcessReads()
	served := 0
	set := client.NewSharedInformersFrom(s.Client, reads, func(k skiffv1.Kind) bool {
		served++
		return k != skiffv1.Kind_KIND_SERVICE
	}, nil)
	scope := set.NewScope()
	defer scope.Close()
	inf := client.Inform(scope, (*client.Client).Services, client.ListOptions{})
	scope.Start()
	if !inf.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	if served == 0 {
		t.Fatal("the set never asked whether its source serves Services")
	}
	grpcListed := 0.0
	families, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "skiff_apiserver_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" && l.GetValue() == "/skiff.v1.Objects/List" {
					grpcListed += m.GetCounter().GetValue()
				}
			}
		}
	}
	if grpcListed == 0 {
		t.Fatal("Services, which the source does not serve, were not listed over gRPC")
	}
	if _, ok := inf.Get("default/a"); !ok {
		t.Fatal("the informer does not hold default/a")
	}
}

// mutationCheckServer is a server holding service default/a, with the
// mutation check's reports going to found until the test ends.
func mutationCheckServer(t *testing.T) (*apitest.Server, context.Context, <-chan string) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	createServices(t, ctx, s.Client, "a")
	found := make(chan string, 4)
	t.Cleanup(client.SetMutationFound(func(msg string) { found <- msg }))
	return s, ctx, found
}

// mutateAndExpectReport modifies service default/a in place as get hands
// it out (the bug the check is for), changes it on the server so the
// informer replaces it, and expects the check's report on found.
func mutateAndExpectReport(ctx context.Context, t *testing.T, c *client.Client, get func(string) (*skiffv1.Service, bool), found <-chan string) {
	t.Helper()
	cached, _ := get("default/a")
	cached.Metadata.Labels["app"] = "changed in place" // the bug
	if _, err := c.Services().Modify(ctx, "default", "a", func(x *skiffv1.Service) error {
		x.Metadata.Labels["tier"] = "front"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-found:
		if !strings.Contains(msg, "default/a") || !strings.Contains(msg, "clone") {
			t.Fatalf("mutation report %q names neither the object nor the remedy", msg)
		}
	case <-ctx.Done():
		t.Fatal("a cached object modified in place went unnoticed")
	}
}
