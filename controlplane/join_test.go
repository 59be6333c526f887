package controlplane

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// An agent joins a TLS control plane with the server's token, keeps its
// certificates for the next start, and renews them: new certificates of
// the same identity, swapped in place and written down. The server picks
// the serving certificate's addresses; another machine cannot join under
// the node's name; deleting the Node revokes its certificates.
func TestJoinAndRenew(t *testing.T) {
	cp, cfg := start(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()

	tokenData, err := os.ReadFile(filepath.Join(cfg.DataDir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenData))
	nodeDir := filepath.Join(dir, "agent", "pki")
	// The agent asks for a public registry's name and another address on
	// its serving certificate; the server signs only where it came from.
	creds, err := pki.JoinNode(ctx, pki.JoinConfig{Server: cp.Addr(), Token: token, Node: "n1", Dir: nodeDir, Addresses: []string{"127.0.0.1", "registry-1.docker.io", "10.9.9.9"}})
	if err != nil {
		t.Fatal(err)
	}
	if cn := creds.Client.Current().Subject.CommonName; cn != "node:n1" {
		t.Fatalf("joined as %q", cn)
	}
	serving := creds.Serving.Current()
	if len(serving.DNSNames) != 0 || len(serving.IPAddresses) != 1 || !serving.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("serving certificate for %v %v: the server must choose (only the address the join came from)", serving.DNSNames, serving.IPAddresses)
	}
	// The next start needs no token.
	again, err := pki.JoinNode(ctx, pki.JoinConfig{Server: cp.Addr(), Node: "n1", Dir: nodeDir})
	if err != nil || again.Client.Current().SerialNumber.Cmp(creds.Client.Current().SerialNumber) != 0 {
		t.Fatalf("second start: %v", err)
	}
	// Another machine (another node password) under the same name: refused.
	if _, err := pki.JoinNode(ctx, pki.JoinConfig{Server: cp.Addr(), Token: token, Node: "n1", Dir: filepath.Join(dir, "thief")}); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "another machine") {
		t.Fatalf("a second join as n1 with another node password: %v", err)
	}
	// The same machine joining again (its certificates lost) is fine.
	if err := os.Remove(filepath.Join(nodeDir, "node.crt")); err != nil {
		t.Fatal(err)
	}
	if creds, err = pki.JoinNode(ctx, pki.JoinConfig{Server: cp.Addr(), Token: token, Node: "n1", Dir: nodeDir}); err != nil {
		t.Fatalf("n1 joining again with its own node password: %v", err)
	}

	c, err := client.New(cp.Addr(), client.Options{TLS: creds.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// It registers its Node with another address (and one another Node
	// holds already); renewal adds its own registered address only.
	admin := adminClient(t, cfg)
	if _, err := admin.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "other"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Nodes().ModifyStatus(ctx, "", "other", func(n *skiffv1.Node) error {
		n.Status = &skiffv1.NodeStatus{Addresses: []*skiffv1.NodeAddress{{Type: "InternalIP", Address: "10.77.0.9"}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatalf("the joined node registering itself: %v", err)
	}
	if _, err := c.Nodes().ModifyStatus(ctx, "", "n1", func(n *skiffv1.Node) error {
		n.Status = &skiffv1.NodeStatus{Addresses: []*skiffv1.NodeAddress{{Type: "InternalIP", Address: "10.77.0.5"}, {Type: "InternalIP", Address: "10.77.0.9"}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if creds.ServingCovers("10.77.0.5") {
		t.Fatal("the serving certificate covered an address before the node registered it")
	}
	before := creds.Client.Current().SerialNumber
	if err := creds.Renew(ctx, c.Conn(), "n1", []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	renewed := creds.Client.Current()
	if renewed.SerialNumber.Cmp(before) == 0 || renewed.Subject.CommonName != "node:n1" {
		t.Fatalf("renewal: serial %v (was %v), %s", renewed.SerialNumber, before, renewed.Subject.CommonName)
	}
	if !creds.ServingCovers("10.77.0.5") || !creds.ServingCovers("127.0.0.1") || creds.ServingCovers("10.77.0.9") {
		t.Fatalf("renewed serving certificate names %v: want its own registered address and where it came from, not another node's", creds.Serving.Current().IPAddresses)
	}
	onDisk, err := pki.ReadCertFile(filepath.Join(nodeDir, "node.crt"))
	if err != nil || onDisk.SerialNumber.Cmp(renewed.SerialNumber) != 0 {
		t.Fatalf("the renewed certificate was not written: %v", err)
	}
	// New connections present the renewed certificate.
	c2, err := client.New(cp.Addr(), client.Options{TLS: creds.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Nodes().Get(ctx, "", "n1"); err != nil {
		t.Fatalf("after renewal: %v", err)
	}
	// Certificates of another node name are not reused: without a token
	// that is an error saying what to do.
	if _, err := pki.JoinNode(ctx, pki.JoinConfig{Server: cp.Addr(), Node: "renamed", Dir: nodeDir}); err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Fatalf("renamed node reused n1's certificates: %v", err)
	}

	// Deleting the Node revokes its certificates: calls and renewal are
	// refused, and the name is free for another machine.
	if _, _, err := admin.Nodes().Delete(ctx, "", "n1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted node's certificate is refused", func() error {
		_, err := c2.Nodes().Get(ctx, "", "n1")
		if status.Code(err) != codes.Unauthenticated {
			return err
		}
		return nil
	})
	if err := creds.Renew(ctx, c2.Conn(), "n1", nil); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("renewal after deletion: %v", err)
	}
	if _, err := pki.JoinNode(ctx, pki.JoinConfig{Server: cp.Addr(), Token: token, Node: "n1", Dir: filepath.Join(dir, "new-machine")}); err != nil {
		t.Fatalf("a new machine joining as the deleted n1: %v", err)
	}
}

func adminClient(t *testing.T, cfg Config) *client.Client {
	t.Helper()
	opts, err := client.OptionsFor(cfg.ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	written, err := client.LoadConfig(cfg.ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(written.Server, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The default join token expires, and the server replaces it in the token
// file once it has.
func TestDefaultTokenExpiresAndIsReplaced(t *testing.T) {
	dir := t.TempDir()
	p, err := setupServerPKI(dir, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(p.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	info, err := p.tokens.Validate(strings.TrimSpace(string(first)))
	if err != nil {
		t.Fatal(err)
	}
	if info.Expires.IsZero() || info.Expires.After(time.Now().Add(DefaultTokenTTL+time.Minute)) {
		t.Fatalf("default token expires %v, want within %v", info.Expires, DefaultTokenTTL)
	}
	// A restart while it is valid keeps it.
	if err := p.refreshDefaultToken(); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(p.tokenFile); string(again) != string(first) {
		t.Fatal("a valid default token was replaced")
	}
	// Once expired, a fresh one takes its place.
	p.tokens.Now = func() time.Time { return info.Expires.Add(time.Minute) }
	if err := p.refreshDefaultToken(); err != nil {
		t.Fatal(err)
	}
	next, _ := os.ReadFile(p.tokenFile)
	if string(next) == string(first) {
		t.Fatal("the expired default token was kept")
	}
	if _, err := p.tokens.Validate(strings.TrimSpace(string(next))); err != nil {
		t.Fatalf("the new default token: %v", err)
	}
}
