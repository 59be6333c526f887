package storage_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A read of what a watch just told of finds it, at that revision or newer:
// a single member's serializable reads may answer from just before the
// event (etcd tells watchers of a write just before new reads can see
// it). The in-process client makes that window easy to hit; under -race
// the test found it in every run before Get looked again.
func TestReadAfterWatchSeesTheWrite(t *testing.T) {
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.LogLevel = "fatal"
	cfg.UnsafeNoFsync = true
	local, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*local}, []url.URL{*local}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*local}, []url.URL{*local}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(time.Minute):
		t.Fatal("etcd not ready")
	}
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
