// Package etcdtest runs a single-member etcd inside a test's process, on
// loopback ports the kernel picks, for tests of code that talks to etcd
// directly (the API server's tests start one through apitest instead).
package etcdtest

import (
	"net/url"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// readyTimeout bounds the wait for a fresh member to serve.
const readyTimeout = time.Minute

// Start runs a fresh etcd (its data in a temporary directory, fsync off)
// and waits until it serves. stop ends it early; the test's cleanup ends
// it otherwise.
func Start(t testing.TB) (e *embed.Etcd, stop func()) {
	t.Helper()
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
	stop = sync.OnceFunc(e.Close)
	t.Cleanup(stop)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(readyTimeout):
		t.Fatal("etcd not ready")
	}
	return e, stop
}

// Endpoint is the client URL of a member Start made.
func Endpoint(e *embed.Etcd) string { return "http://" + e.Clients[0].Addr().String() }
