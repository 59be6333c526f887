package leader_test

import (
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// A candidate still campaigning when etcd goes away (a server stopping its
// embedded etcd before its components) ends when its context does: the
// campaign's resign runs on the client's own context, which only closing
// the client ends.
func TestCampaignEndsWhenEtcdIsGone(t *testing.T) {
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
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			e.Close()
		}
	})
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(deadline):
		t.Fatal("etcd not ready")
	}
	endpoints := []string{"http://" + e.Clients[0].Addr().String()}

	var active, most atomic.Int32
	first := startCandidate(t, endpoints, "first", &active, &most)
	waitFor(t, "first leads", first.leading.Load)
	second := startCandidate(t, endpoints, "second", &active, &most)
	time.Sleep(200 * time.Millisecond) // let the second campaign start waiting

	e.Close()
	stopped = true
	second.stop(t) // fails the test if Run does not return within the deadline
	first.stop(t)
	if second.terms.Load() != 0 {
		t.Errorf("the second candidate led while the first did")
	}
}
