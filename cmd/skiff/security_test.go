package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controlplane"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// An agent joins a TLS control plane with the server's token, keeps its
// certificates for the next start, and renews them: new certificates of
// the same identity, swapped in place and written down.
func TestJoinAndRenew(t *testing.T) {
	dir := t.TempDir()
	cfg := controlplane.Config{
		DataDir: filepath.Join(dir, "server"), Listen: "127.0.0.1:0", EtcdListen: "127.0.0.1:0",
		ClusterCIDR: "10.88.0.0/16", ClientConfig: filepath.Join(dir, "cli", "config"), ClusterDomain: "cluster.local",
		Logger: slog.New(slog.DiscardHandler), Metrics: newRegistry(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	cp, err := controlplane.Start(gctx, g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); g.Wait() })

	token, err := os.ReadFile(filepath.Join(cfg.DataDir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	nodeDir := filepath.Join(dir, "agent", "pki")
	creds, err := joinCluster(ctx, cp.Addr(), strings.TrimSpace(string(token)), "n1", nodeDir, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if cn := creds.clientCert.Current().Subject.CommonName; cn != "node:n1" {
		t.Fatalf("joined as %q", cn)
	}
	// The next start needs no token.
	again, err := joinCluster(ctx, cp.Addr(), "", "n1", nodeDir, nil)
	if err != nil || again.clientCert.Current().SerialNumber.Cmp(creds.clientCert.Current().SerialNumber) != 0 {
		t.Fatalf("second start: %v", err)
	}
	c, err := client.New(cp.Addr(), client.Options{TLS: creds.client})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatalf("the joined node registering itself: %v", err)
	}
	before := creds.clientCert.Current().SerialNumber
	if err := renewOnce(ctx, c, creds, "n1", []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	renewed := creds.clientCert.Current()
	if renewed.SerialNumber.Cmp(before) == 0 || renewed.Subject.CommonName != "node:n1" {
		t.Fatalf("renewal: serial %v (was %v), %s", renewed.SerialNumber, before, renewed.Subject.CommonName)
	}
	onDisk, err := pki.ReadCertFile(filepath.Join(nodeDir, "node.crt"))
	if err != nil || onDisk.SerialNumber.Cmp(renewed.SerialNumber) != 0 {
		t.Fatalf("the renewed certificate was not written: %v", err)
	}
	// New connections present the renewed certificate.
	c2, err := client.New(cp.Addr(), client.Options{TLS: creds.client})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Nodes().Get(ctx, "", "n1"); err != nil {
		t.Fatalf("after renewal: %v", err)
	}
	// Certificates of another node name are not reused: without a token
	// that is an error saying what to do.
	if _, err := joinCluster(ctx, cp.Addr(), "", "renamed", nodeDir, nil); err == nil || !strings.Contains(err.Error(), "--token") {
		t.Fatalf("renamed node reused n1's certificates: %v", err)
	}
	// Without a token and without certificates, joining says what to do.
	if _, err := joinCluster(ctx, cp.Addr(), "", "n2", filepath.Join(dir, "other"), nil); err == nil || !strings.Contains(err.Error(), "--token") {
		t.Fatalf("no token: %v", err)
	}
}
