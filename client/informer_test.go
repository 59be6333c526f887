package client_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func svc(name string) *skiffv1.Service {
	return &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec:     &skiffv1.ServiceSpec{Ports: []*skiffv1.ServicePort{{Port: 80}}},
	}
}

// recorder keeps what the handlers saw: the set of live names.
type recorder struct {
	mu      sync.Mutex
	live    map[string]string // name → resource version
	deletes int
}

func (r *recorder) handler() client.Handler[*skiffv1.Service] {
	return client.Handler[*skiffv1.Service]{
		OnAdd: func(s *skiffv1.Service) { r.set(s) },
		OnUpdate: func(_, s *skiffv1.Service) {
			r.set(s)
		},
		OnDelete: func(s *skiffv1.Service) {
			r.mu.Lock()
			delete(r.live, s.Metadata.Name)
			r.deletes++
			r.mu.Unlock()
		},
	}
}

func (r *recorder) set(s *skiffv1.Service) {
	r.mu.Lock()
	r.live[s.Metadata.Name] = s.Metadata.ResourceVersion
	r.mu.Unlock()
}

func (r *recorder) snapshot() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for k, v := range r.live {
		out[k] = v
	}
	return out
}

func serverState(t *testing.T, ctx context.Context, c *client.Client) map[string]string {
	items, _, err := c.Services().List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range items {
		out[s.Metadata.Name] = s.Metadata.ResourceVersion
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// An informer that falls behind a compaction lists again and ends with the
// server's state, telling its handlers about what it missed.
func TestInformerRelistsAfterCompaction(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < 5; i++ {
		if _, err := s.Client.Services().Create(ctx, svc(fmt.Sprintf("s%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	inf := client.NewInformer(s.Client.Services(), client.ListOptions{}, nil)
	inf.AddIndex("app", func(s *skiffv1.Service) []string { return []string{s.Metadata.Labels["app"]} })
	rec := &recorder{live: map[string]string{}}
	inf.AddHandler(rec.handler())

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { inf.Run(runCtx); close(done) }()
	if !inf.WaitForSync(ctx) {
		t.Fatal("no sync")
	}
	if got := len(inf.ByIndex("app", "web")); got != 5 {
		t.Fatalf("index has %d, want 5", got)
	}
	// The informer stops (a paused process); meanwhile the world changes
	// and the history it would resume from is compacted away.
	stop()
	<-done
	if _, _, err := s.Client.Services().Delete(ctx, "default", "s1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.Services().Modify(ctx, "default", "s2", func(x *skiffv1.Service) error {
		x.Metadata.Labels["app"] = "api"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	last, err := s.Client.Services().Create(ctx, svc("s9"))
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := strconv.ParseInt(last.Metadata.ResourceVersion, 10, 64)
	if err := s.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}

	go inf.Run(ctx)
	want := serverState(t, ctx, s.Client)
	deadline := time.Now().Add(30 * time.Second)
	for !equalMaps(rec.snapshot(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("handlers saw %v, server has %v", keys(rec.snapshot()), keys(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rec.deletes != 1 {
		t.Fatalf("deletes seen = %d, want 1 (s1)", rec.deletes)
	}
	if got := len(inf.ByIndex("app", "web")); got != 4 {
		t.Fatalf("index app=web has %d, want 4 after relist", got)
	}
	if got := inf.ByIndex("app", "api"); len(got) != 1 || got[0].Metadata.Name != "s2" {
		t.Fatalf("index app=api = %v", got)
	}
	if _, ok := inf.Get("default/s1"); ok {
		t.Fatal("s1 still cached")
	}
	// And it keeps following live changes after the relist.
	if _, err := s.Client.Services().Create(ctx, svc("s10")); err != nil {
		t.Fatal(err)
	}
	for {
		if _, ok := inf.Get("default/s10"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("live change after relist not seen")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
