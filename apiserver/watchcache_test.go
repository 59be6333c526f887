package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A label selector's watch says ADDED when a pod starts matching and
// DELETED when it stops, served from the watch cache or not.
func TestWatchSelectorTranslation(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("cache=%v", cached), func(t *testing.T) {
			s := apitest.Start(t, func(c *apiserver.Config) { c.DisableWatchCache = !cached })
			ctx := ctxT(t)
			pods := s.Client.Pods()
			other, err := pods.Create(ctx, pod("other"))
			if err != nil {
				t.Fatal(err)
			}
			w, err := pods.Watch(ctx, client.ListOptions{LabelSelector: "app=web,tier=front"}, other.Metadata.ResourceVersion)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			p := pod("web")
			p.Metadata.Labels["tier"] = "front"
			cur, err := pods.Create(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			relabel := func(tier string) {
				t.Helper()
				cur.Metadata.Labels["tier"] = tier
				if cur, err = pods.Update(ctx, cur); err != nil {
					t.Fatal(err)
				}
			}
			relabel("back")  // stops matching
			relabel("back2") // concerns the watch no more
			relabel("front") // matches again
			if _, _, err := pods.Delete(ctx, "default", "web", client.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			var got []string
			for len(got) < 4 {
				ev, err := w.Next()
				if err != nil {
					t.Fatal(err)
				}
				if ev.Type != skiffv1.WatchEvent_BOOKMARK {
					got = append(got, ev.Type.String()+" "+ev.Object.Metadata.Name+" "+ev.Object.Metadata.Labels["tier"])
				}
			}
			want := "ADDED web front, DELETED web back, ADDED web front, DELETED web front"
			if strings.Join(got, ", ") != want {
				t.Fatalf("got %s\nwant %s", strings.Join(got, ", "), want)
			}
		})
	}
}

// An informer that stops reading is ended by the server (its watch fell
// further behind than the cache queues) and resumes from the revision it
// reached, from the cache: every object arrives exactly once, with no
// list after the first.
func TestSlowInformerResumesWithoutGap(t *testing.T) {
	s := apitest.Start(t, func(c *apiserver.Config) { c.WatchCacheQueue = 10 })
	ctx := ctxT(t)
	cms := s.Client.ConfigMaps()
	inf := client.NewInformer(cms, client.ListOptions{Namespace: "default"}, nil)
	release := make(chan struct{})
	var mu sync.Mutex
	added := map[string]int{}
	inf.AddHandler(client.Handler[*skiffv1.ConfigMap]{OnAdd: func(cm *skiffv1.ConfigMap) {
		<-release // the first one holds the informer up until the writes are done
		mu.Lock()
		added[cm.Metadata.Name]++
		mu.Unlock()
	}})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan struct{})
	go func() { defer close(ran); inf.Run(runCtx) }()
	defer func() { stop(); <-ran }()
	if !inf.WaitForSync(ctx) {
		t.Fatal("informer not synced")
	}
	bulk := strings.Repeat("x", 8<<10)
	n := 0
	for slowEnded(t, s) == 0 {
		if n == 3000 {
			t.Fatal("3,000 writes and the informer that does not read is still being served")
		}
		cm := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: fmt.Sprintf("cm%04d", n), Namespace: "default"}, Data: map[string]string{"bulk": bulk}}
		if _, err := cms.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
		n++
	}
	close(release)
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		got := len(added)
		mu.Unlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the informer has %d of %d ConfigMaps", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for name, times := range added {
		if times != 1 {
			t.Errorf("%s added %d times", name, times)
		}
	}
	if l := requests(t, s, "/skiff.v1.Objects/List", "OK"); l != 1 {
		t.Errorf("%v lists, want 1: the informer resumed from the cache, not by listing again", l)
	}
	if r := requests(t, s, "/skiff.v1.Objects/Watch", "ResourceExhausted"); r < 1 {
		t.Errorf("no watch ended with ResourceExhausted")
	}
}

func slowEnded(t *testing.T, s *apitest.Server) float64 {
	t.Helper()
	families, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "skiff_apiserver_watch_cache_slow_watchers_total" {
			total := 0.0
			for _, m := range f.GetMetric() {
				total += m.GetCounter().GetValue()
			}
			return total
		}
	}
	return 0
}
