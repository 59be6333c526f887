package storage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"

	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/internal/etcdtest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A read of what a watch just told of finds it, at that revision or newer:
// a single member's serializable reads may answer from just before the
// event (etcd tells watchers of a write just before new reads can see
// it). The in-process client makes that window easy to hit; under -race
// the test failed in every run (5 of 5) before Get looked again.
func TestReadAfterWatchSeesTheWrite(t *testing.T) {
	e, _ := etcdtest.Start(t)
	cli := v3client.New(e.Server)
	defer cli.Close()
	st := storage.New(cli, storage.Options{SingleMember: true})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, rev, err := st.List(ctx, skiffv1.Kind_KIND_CONFIG_MAP, "default")
	if err != nil {
		t.Fatal(err)
	}
	events := st.Watch(ctx, skiffv1.Kind_KIND_CONFIG_MAP, "default", rev)
	// Each object is created, then changed once.
	const writers, each = 4, 250
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				cm := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("w%d-%d", i, j)}}
				made, err := st.Create(ctx, cm, nil, 0)
				if err != nil {
					t.Error(err)
					return
				}
				made.(*skiffv1.ConfigMap).Data = map[string]string{"changed": "yes"}
				if _, err := st.Update(ctx, made, storage.Revision(made)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 2 * writers * each {
		var ev storage.WatchEvent
		select {
		case ev = <-events:
		case <-ctx.Done():
			t.Fatal("watch events stopped coming")
		}
		if ev.Err != nil {
			t.Fatal(ev.Err)
		}
		name := ev.Object.GetMetadata().GetName()
		got, err := st.GetAtLeast(ctx, skiffv1.Kind_KIND_CONFIG_MAP, "default", name, ev.Revision)
		if err != nil {
			t.Fatalf("%s, just after its watch event at revision %d: %v", name, ev.Revision, err)
		}
		if r := storage.Revision(got); r < ev.Revision {
			t.Fatalf("%s, just after its watch event at revision %d: read at revision %d", name, ev.Revision, r)
		}
		if ev.Type == storage.Added {
			if _, err := st.Get(ctx, skiffv1.Kind_KIND_CONFIG_MAP, "default", name); err != nil {
				t.Fatalf("%s, just after its watch event: %v", name, err)
			}
		}
	}
}
