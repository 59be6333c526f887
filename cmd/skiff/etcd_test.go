package main

import (
	"context"
	"crypto/tls"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/pki"
)

// startTestControlPlane runs `skiff server`'s control plane with TLS on
// loopback ports until the test ends.
func startTestControlPlane(t *testing.T) (*controlPlane, *serverFlags) {
	t.Helper()
	dir := t.TempDir()
	f := &serverFlags{
		dataDir: filepath.Join(dir, "server"), listen: "127.0.0.1:0", etcdListen: "127.0.0.1:0",
		clusterCIDR: "10.88.0.0/16", clientConfig: filepath.Join(dir, "cli", "config"), clusterDomain: "cluster.local",
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	cp, err := startControlPlane(gctx, g, f, slog.New(slog.DiscardHandler), newRegistry())
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); g.Wait() })
	return cp, f
}

// The embedded etcd of a TLS server admits only the server's own etcd
// client certificate: no certificate, or a certificate of the same CA for
// another identity (a node's), is refused by the real etcd client.
func TestEmbeddedEtcdRefusesUnauthenticatedClients(t *testing.T) {
	cp, _ := startTestControlPlane(t)
	endpoints := cp.etcdEndpoints
	if len(endpoints) != 1 || !strings.HasPrefix(endpoints[0], "https://127.0.0.1:") {
		t.Fatalf("embedded etcd endpoints %v, want one https loopback URL", endpoints)
	}
	get := func(cfg *tls.Config) error {
		c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: cfg, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = c.Get(ctx, "/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		return err
	}
	if err := get(cp.etcdTLS); err != nil {
		t.Fatalf("the server's own etcd client: %v", err)
	}
	// Plain HTTP at the same port.
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{strings.TrimPrefix(endpoints[0], "https://")}, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = c.Get(ctx, "/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		cancel()
		c.Close()
	}
	if err == nil {
		t.Fatal("a plain-text etcd client read the store")
	}
	// TLS, trusting the CA, without a certificate.
	if err := get(&tls.Config{RootCAs: cp.pki.ca.Pool()}); err == nil {
		t.Fatal("an etcd client without a certificate read the store")
	}
	// A node's certificate from the cluster CA.
	node, err := cp.pki.ca.IssueClient(pki.NodeIdentity("n1"), 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := get(&tls.Config{RootCAs: cp.pki.ca.Pool(), Certificates: []tls.Certificate{node.TLSCertificate()}}); err == nil {
		t.Fatal("a node certificate read the embedded etcd")
	}
}

// The external etcd's TLS flags: a certificate needs its key, files must
// hold what they say, and the pair is used as the client certificate.
func TestEtcdClientFlags(t *testing.T) {
	if cfg, err := (&etcdClientFlags{}).tlsConfig(); cfg != nil || err != nil {
		t.Fatalf("no flags: %v %v", cfg, err)
	}
	dir := t.TempDir()
	ca, err := pki.NewCA("etcd-ca", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := pki.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	kp, _ := ca.IssueClient(pki.Identity{Name: "apiserver-etcd-client"}, 0, time.Now())
	certFile, keyFile, err := kp.Write(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]etcdClientFlags{
		"cert without key": {ca: caFile, cert: certFile},
		"missing CA file":  {ca: filepath.Join(dir, "nope.pem")},
		"CA file not PEM":  {ca: keyFile + ".missing"},
		"key is no cert":   {cert: keyFile, key: keyFile},
	} {
		if _, err := f.tlsConfig(); err == nil || !strings.Contains(err.Error(), "--etcd-") {
			t.Errorf("%s: %v, want an error naming the flag", name, err)
		}
	}
	cfg, err := (&etcdClientFlags{ca: caFile, cert: certFile, key: keyFile}).tlsConfig()
	if err != nil || cfg.RootCAs == nil || len(cfg.Certificates) != 1 {
		t.Fatalf("all three: %+v %v", cfg, err)
	}
}
