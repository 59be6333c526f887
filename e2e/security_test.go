package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A TLS server alone (no agent, so the host's network is untouched) on
// loopback ports, driven through gRPC: who gets in, and who may do what.
func TestSecurity(t *testing.T) {
	bin := skiffBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "cli", "config")
	var log bytes.Buffer
	cmd := exec.Command(bin, "server", "--insecure=false", "--data-dir", filepath.Join(dir, "data"),
		"--listen", "127.0.0.1:0", "--etcd-listen", "127.0.0.1:0", "--registry-addr", "", "--metrics-addr", "",
		"--write-config", cfgPath)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", log.String())
		}
	})
	var cfg *client.Config
	eventually(t, "server config written", func() error {
		var err error
		cfg, err = client.LoadConfig(cfgPath)
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := dial(t, cfgPath)
	eventually(t, "server answers the admin", func() error { return admin.WaitReady(ctx) })

	// A plain-text client cannot talk to the TLS server.
	plain, _ := client.New(cfg.Server, client.Options{})
	defer plain.Close()
	short, stop := context.WithTimeout(ctx, 3*time.Second)
	_, _, err := plain.Pods().List(short, client.ListOptions{})
	stop()
	if err == nil {
		t.Fatal("a plain-text client was served")
	}
	// TLS without a certificate: told how to get credentials.
	ca, err := pki.ReadCertFile(cfg.CA)
	if err != nil {
		t.Fatal(err)
	}
	anon, _ := client.New(cfg.Server, client.Options{TLS: pki.ClientTLS(ca, nil, "")})
	defer anon.Close()
	_, _, err = anon.Pods().List(ctx, client.ListOptions{})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "~/.skiff/config") {
		t.Fatalf("no credentials: %v", err)
	}
	// A certificate from another CA: refused in the handshake.
	other, err := pki.NewCA("impostor", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := other.IssueClient(pki.Identity{Name: pki.Admin}, 0, time.Now())
	foreign, _ := client.New(cfg.Server, client.Options{TLS: pki.ClientTLS(ca, pki.NewCertHolder(kp), "")})
	defer foreign.Close()
	short, stop = context.WithTimeout(ctx, 3*time.Second)
	_, _, err = foreign.Pods().List(short, client.ListOptions{})
	stop()
	if err == nil || status.Code(err) == codes.OK {
		t.Fatal("a certificate of another CA was accepted")
	}

	// Joining: a token of another CA is refused before the secret is sent;
	// a wrong or revoked secret is refused by the server; the right one
	// gets a node certificate.
	tokenData, err := os.ReadFile(filepath.Join(dir, "data", "token"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := pki.ParseToken(strings.TrimSpace(string(tokenData)))
	if err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.CAHash = pki.CAHash(other.Cert)
	if _, err := pki.FetchCA(ctx, cfg.Server, bad); err == nil {
		t.Fatal("a token for another CA passed the CA check")
	}
	if _, err := join(ctx, cfg.Server, ca, pki.Token{CAHash: good.CAHash, ID: good.ID, Secret: "aaaaaaaaaaaaaaaa"}, "n2"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("wrong secret: %v", err)
	}
	revokedTok, err := skiffv1.NewTokensClient(admin.Conn()).Create(ctx, &skiffv1.CreateTokenRequest{TtlSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := pki.ParseToken(revokedTok.Token)
	if _, err := skiffv1.NewTokensClient(admin.Conn()).Revoke(ctx, &skiffv1.RevokeTokenRequest{Id: rt.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := join(ctx, cfg.Server, ca, rt, "n2"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("revoked token: %v", err)
	}
	n2, err := join(ctx, cfg.Server, ca, good, "n2")
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()

	// Node restriction: n2 may register itself, not touch n1 or n1's pods.
	if _, err := admin.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n2.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n2"}}); err != nil {
		t.Fatalf("n2 registering itself: %v", err)
	}
	if _, err := n2.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n3"}}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("n2 creating n3: %v", err)
	}
	n1, _ := admin.Nodes().Get(ctx, "", "n1")
	if _, err := n2.Nodes().UpdateStatus(ctx, n1); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "node:n2") {
		t.Fatalf("n2 writing n1's status: %v", err)
	}
	pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "web"}, Spec: &skiffv1.PodSpec{NodeName: "n1", Containers: []*skiffv1.Container{{Name: "c", Image: "x"}}}}
	if _, err := admin.Pods().Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	p, _ := admin.Pods().Get(ctx, "default", "web") // n2 may not read it (see hostile_node_test.go)
	p.Status.Phase = "Running"
	_, err = n2.Pods().UpdateStatus(ctx, p)
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "bound to node n1") {
		t.Fatalf("n2 writing the status of n1's pod: %v", err)
	}
	if _, _, err := n2.Pods().Delete(ctx, "default", "web", client.DeleteOptions{Force: true}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("n2 deleting n1's pod: %v", err)
	}
	if _, err := n2.Pods().Create(ctx, &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "sneaky"}, Spec: pod.Spec}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("n2 creating a pod: %v", err)
	}
	// Renewal: a node gets new certificates for itself, whatever name it
	// asks for.
	csr, _, _ := pki.NewCSR(pki.NodeIdentity("n3"))
	serving, _, _ := pki.NewCSR(pki.NodeIdentity("n3"))
	resp, err := skiffv1.NewJoinClient(n2.Conn()).RenewNode(ctx, &skiffv1.SignNodeRequest{NodeName: "n3", ClientCsr: csr, ServingCsr: serving, ServingAddresses: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if renewed, err := pki.ParseCert(resp.ClientChain); err != nil || renewed.Subject.CommonName != "node:n2" {
		t.Fatalf("renewed certificate: %v %v", renewed.Subject, err)
	}
	if _, err := skiffv1.NewJoinClient(admin.Conn()).RenewNode(ctx, &skiffv1.SignNodeRequest{NodeName: "n1", ClientCsr: csr, ServingCsr: serving}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("admin renewing a node certificate: %v", err)
	}
	// The audit log recorded the refusals, with who asked.
	audit, err := os.ReadFile(filepath.Join(dir, "data", "audit", "audit.log"))
	if err != nil || !strings.Contains(string(audit), `"user":"node:n2"`) || !strings.Contains(string(audit), "PermissionDenied") {
		t.Fatalf("audit log: %v\n%s", err, audit)
	}
}

// dial connects with a config file's credentials.
func dial(t *testing.T, cfgPath string) *client.Client {
	t.Helper()
	cfg, err := client.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cfg.Options(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg.Server, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// join does what a new agent does with a token and returns a client with
// the node's new certificate.
func join(ctx context.Context, server string, ca *x509.Certificate, tok pki.Token, node string) (*client.Client, error) {
	csr, kp, err := pki.NewCSR(pki.NodeIdentity(node))
	if err != nil {
		return nil, err
	}
	serving, _, err := pki.NewCSR(pki.NodeIdentity(node))
	if err != nil {
		return nil, err
	}
	c, err := client.New(server, client.Options{
		TLS:         pki.ClientTLS(ca, nil, ""),
		DialOptions: []grpc.DialOption{grpc.WithPerRPCCredentials(pki.BearerCredentials{Token: tok.Bearer()})},
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	resp, err := skiffv1.NewJoinClient(c.Conn()).SignNode(ctx, &skiffv1.SignNodeRequest{NodeName: node, ClientCsr: csr, ServingCsr: serving, ServingAddresses: []string{"127.0.0.1"}})
	if err != nil {
		return nil, err
	}
	if kp, err = kp.WithSignedChain(resp.ClientChain); err != nil {
		return nil, err
	}
	return client.New(server, client.Options{TLS: pki.ClientTLS(ca, pki.NewCertHolder(kp), "")})
}
