package controlplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// externalEtcd starts a 3-member etcd cluster with TLS (client
// certificates required) from etcd's embed package, and returns its client
// URLs, the client TLS and a function that stops member i.
func externalEtcd(t *testing.T) ([]string, *tls.Config, func(i int)) {
	t.Helper()
	dir := t.TempDir()
	ca, _, err := pki.LoadOrCreateCA(filepath.Join(dir, "ca"), "external-etcd-ca")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca", pki.CACertFile)
	now := time.Now()
	peer, err := ca.IssueEtcdPeer([]net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	peerCert, peerKey, err := peer.Write(dir, "peer")
	if err != nil {
		t.Fatal(err)
	}
	clientPair, err := ca.IssueClient(pki.Identity{Name: "skiff"}, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"e0", "e1", "e2"}
	var clientURLs, peerURLs []url.URL
	var initial []string
	for _, n := range names {
		c, _ := url.Parse("https://" + freePort(t))
		p, _ := url.Parse("https://" + freePort(t))
		clientURLs, peerURLs = append(clientURLs, *c), append(peerURLs, *p)
		initial = append(initial, n+"="+p.String())
	}
	tlsInfo := transport.TLSInfo{CertFile: peerCert, KeyFile: peerKey, TrustedCAFile: caFile, ClientCertAuth: true}
	members := make([]*embed.Etcd, len(names))
	for i, n := range names {
		ec := embed.NewConfig()
		ec.Name, ec.Dir, ec.LogLevel = n, filepath.Join(dir, n), "fatal"
		ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{clientURLs[i]}, []url.URL{clientURLs[i]}
		ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{peerURLs[i]}, []url.URL{peerURLs[i]}
		ec.InitialCluster = strings.Join(initial, ",")
		ec.ClientTLSInfo, ec.PeerTLSInfo = tlsInfo, tlsInfo
		ec.UnsafeNoFsync = true
		e, err := embed.StartEtcd(ec)
		if err != nil {
			t.Fatalf("etcd %s: %v", n, err)
		}
		members[i] = e
		t.Cleanup(func() {
			if members[i] != nil {
				members[i].Close()
			}
		})
	}
	for _, e := range members {
		select {
		case <-e.Server.ReadyNotify():
		case <-time.After(time.Minute):
			t.Fatal("the external etcd cluster did not get ready")
		}
	}
	var endpoints []string
	for _, u := range clientURLs {
		endpoints = append(endpoints, u.String())
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.Pool(), Certificates: []tls.Certificate{clientPair.TLSCertificate()}}
	stop := func(i int) { members[i].Close(); members[i] = nil }
	return endpoints, cfg, stop
}

// Two servers on one external 3-member etcd cluster with TLS, the second
// joining the first for its CA and Secret keys: a Secret written through
// one is read through the other, usage readings reach both, a client of
// both addresses fails over when one server stops, and the servers keep
// serving when an etcd member stops.
func TestServersOnExternalEtcdCluster(t *testing.T) {
	endpoints, etcdTLS, stopMember := externalEtcd(t)
	ctx := testCtx(t)
	var servers []*clusterServer
	for i := range 2 {
		dir := t.TempDir()
		cfg := Config{
			DataDir: filepath.Join(dir, "server"), Listen: "127.0.0.1:0", ClientConfig: filepath.Join(dir, "cli", "config"),
			EtcdEndpoints: endpoints, EtcdTLS: etcdTLS,
			ClusterCIDR: "10.88.0.0/16", ClusterDomain: "cluster.local", ServerName: fmt.Sprint("x", i),
			Metrics: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
			ClusterInit: i == 0,
		}
		if i > 0 {
			cfg.JoinServer, cfg.JoinToken = servers[0].cp.Addr(), serverToken(t, servers[0])
		}
		servers = append(servers, runMember(t, cfg))
	}
	c0, err := servers[0].cp.Client(pki.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c0.Close()
	c1, err := servers[1].cp.Client(pki.Admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	secret := &skiffv1.Secret{Metadata: &skiffv1.ObjectMeta{Name: "shared", Namespace: "default"}, Data: map[string][]byte{"a": []byte("b")}}
	if _, err := c0.Secrets().Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if got, err := c1.Secrets().Get(ctx, "default", "shared"); err != nil || string(got.GetData()["a"]) != "b" {
		t.Fatalf("a Secret written through one server, read through the other: %v %v", got, err)
	}
	waitServers(t, ctx, servers[1].cp, 2)
	if _, err := skiffv1.NewUsageClient(c0.Conn()).Report(ctx, &skiffv1.UsageReport{Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	for {
		snap, err := skiffv1.NewUsageClient(c1.Conn()).Get(ctx, &skiffv1.UsageQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.GetNodes()) == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("a usage report to one server never reached the other")
		case <-time.After(100 * time.Millisecond):
		}
	}

	// One client of both servers (the same CA: one admin certificate).
	opts, err := client.OptionsFor(servers[0].cfg.ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	both, err := client.New(servers[0].cp.Addr()+","+servers[1].cp.Addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer both.Close()
	if _, err := both.Secrets().Get(ctx, "default", "shared"); err != nil {
		t.Fatal(err)
	}
	servers[0].stop()
	stopMember(0)
	cm := &skiffv1.ConfigMap{Metadata: &skiffv1.ObjectMeta{Name: "after", Namespace: "default"}}
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := both.ConfigMaps().Create(cctx, cm)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no write with a server and an etcd member stopped: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if _, err := c1.ConfigMaps().Get(ctx, "default", "after"); err != nil {
		t.Fatal(err)
	}
}
