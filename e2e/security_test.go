package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/internal/testport"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A TLS server alone (no agent, so the host's network is untouched) on
// loopback ports, driven through gRPC: who gets in, and who may do what.
func TestSecurity(t *testing.T) {
	t.Parallel()
	srv := startTLSServer(t)
	cfgPath, cfg, dir := srv.cfgPath, srv.cfg, srv.dir
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := dial(t, cfgPath)
	eventually(t, "server answers the admin", func() error { return admin.WaitReady(ctx) })

	// A plain-text client cannot talk to the TLS server.
	plain, err := client.New(cfg.Server, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	short, stop := context.WithTimeout(ctx, 3*time.Second)
	_, _, err = plain.Pods().List(short, client.ListOptions{})
	stop()
	if err == nil {
		t.Fatal("a plain-text client was served")
	}
	// TLS without a certificate: told how to get credentials.
	ca, err := pki.ReadCertFile(cfg.CA)
	if err != nil {
		t.Fatal(err)
	}
	anon, err := client.New(cfg.Server, client.Options{TLS: pki.ClientTLS(ca, nil, "")})
	if err != nil {
		t.Fatal(err)
	}
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
	kp, err := other.IssueClient(pki.Identity{Name: pki.Admin}, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := client.New(cfg.Server, client.Options{TLS: pki.ClientTLS(ca, pki.NewCertHolder(kp), "")})
	if err != nil {
		t.Fatal(err)
	}
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
	rt, err := pki.ParseToken(revokedTok.Token)
	if err != nil {
		t.Fatal(err)
	}
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
	n1, err := admin.Nodes().Get(ctx, "", "n1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n2.Nodes().UpdateStatus(ctx, n1); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "node:n2") {
		t.Fatalf("n2 writing n1's status: %v", err)
	}
	pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "web"}, Spec: &skiffv1.PodSpec{NodeName: "n1", Containers: []*skiffv1.Container{{Name: "c", Image: "x"}}}}
	if _, err := admin.Pods().Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	p, err := admin.Pods().Get(ctx, "default", "web") // n2 may not read it (see hostile_node_test.go)
	if err != nil {
		t.Fatalf("reading a pod: %v", err)
	}
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
	csr, _, err := pki.NewCSR(pki.NodeIdentity("n3"))
	if err != nil {
		t.Fatal(err)
	}
	serving, _, err := pki.NewCSR(pki.NodeIdentity("n3"))
	if err != nil {
		t.Fatal(err)
	}
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

// tlsServer is `skiff server` with TLS (no agent, so the host's network is
// untouched) on loopback ports, its embedded etcd and registry included.
type tlsServer struct {
	dir, dataDir, cfgPath string
	cfg                   *client.Config
	etcd, registry        string // host:port
}

func startTLSServer(t *testing.T) *tlsServer {
	t.Helper()
	bin := skiffBinary(t)
	dir := t.TempDir()
	s := &tlsServer{dir: dir, dataDir: filepath.Join(dir, "data"), cfgPath: filepath.Join(dir, "cli", "config"),
		etcd: loopbackPort(t), registry: loopbackPort(t)}
	var log bytes.Buffer
	cmd := exec.Command(bin, "server", "--insecure=false", "--data-dir", s.dataDir,
		"--listen", "127.0.0.1:0", "--etcd-listen", s.etcd, "--registry-addr", s.registry, "--metrics-addr", "", "--dashboard-addr", "",
		"--write-config", s.cfgPath)
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
	eventually(t, "server config written", func() error {
		var err error
		s.cfg, err = client.LoadConfig(s.cfgPath)
		return err
	})
	return s
}

// loopbackPort is a free port on 127.0.0.1 (free when asked; the server
// takes it a moment later).
func loopbackPort(t *testing.T) string { return testport.Loopback(t) }

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
	resp, err := skiffv1.NewJoinClient(c.Conn()).SignNode(ctx, &skiffv1.SignNodeRequest{NodeName: node, ClientCsr: csr, ServingCsr: serving, ServingAddresses: []string{"127.0.0.1"}, NodePassword: "password-of-" + node})
	if err != nil {
		return nil, err
	}
	if kp, err = kp.WithSignedChain(resp.ClientChain); err != nil {
		return nil, err
	}
	return client.New(server, client.Options{TLS: pki.ClientTLS(ca, pki.NewCertHolder(kp), "")})
}

// A node identity turned hostile, against the parts that keep nodes in
// their place: it cannot get a serving certificate the API server's
// clients accept, cannot join under another node's name, and once its
// Node is deleted its certificates get nothing.
func TestHostileNode(t *testing.T) {
	t.Parallel()
	srv := startTLSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	admin := dial(t, srv.cfgPath)
	eventually(t, "server answers the admin", func() error { return admin.WaitReady(ctx) })
	tokenData, err := os.ReadFile(filepath.Join(srv.dataDir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenData))
	machines := t.TempDir()
	joinAs := func(node, machine string) (*pki.NodeCredentials, error) {
		return pki.JoinNode(ctx, pki.JoinConfig{Server: srv.cfg.Server, Token: token, Node: node, Dir: filepath.Join(machines, machine),
			Addresses: []string{"127.0.0.1", "registry-1.docker.io", "localhost", "10.1.2.3"}})
	}
	evil, err := joinAs("evil", "evil-machine")
	if err != nil {
		t.Fatal(err)
	}

	// It asked for names; the server signed only the address it came from.
	serving := evil.Serving.Current()
	if len(serving.DNSNames) != 0 || len(serving.IPAddresses) != 1 || !serving.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("the node's serving certificate names %v %v", serving.DNSNames, serving.IPAddresses)
	}
	// It serves with that certificate (valid for 127.0.0.1, from the
	// cluster CA) and waits for the cluster's clients to mistake it for
	// the API server or the registry.
	lis, err := tls.Listen("tcp", "127.0.0.1:0", evil.ServingTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.(*tls.Conn).Handshake()
				c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
			}()
		}
	}()
	fake := lis.Addr().String()
	// The command line (admin config) and every component pin the API
	// server's identity.
	opts, err := client.OptionsFor(srv.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	fooled, _ := client.New(fake, opts)
	defer fooled.Close()
	short, stop := context.WithTimeout(ctx, 5*time.Second)
	_, _, err = fooled.Pods().List(short, client.ListOptions{})
	stop()
	if err == nil || !strings.Contains(err.Error(), "not the API server's") {
		t.Fatalf("the admin's client against a node's serving certificate: %v", err)
	}
	// A joining agent checks the same before it sends its token.
	tok, _ := pki.ParseToken(token)
	if _, err := pki.FetchCA(ctx, fake, tok); !errors.Is(err, pki.ErrCAMismatch) {
		t.Fatalf("a joining agent against the node's endpoint: %v", err)
	}
	// The image transport (admin's, and nodes') does not take it for a
	// registry either.
	images, err := client.RegistryTransport(srv.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&http.Client{Transport: images}).Get("https://" + fake + "/v2/"); err == nil || !strings.Contains(err.Error(), "not the control plane's") {
		t.Fatalf("the image transport against a node's serving certificate: %v", err)
	}

	// Another node's name: the first machine's node password holds it.
	if _, err := joinAs("worker", "worker-machine"); err != nil {
		t.Fatal(err)
	}
	if _, err := joinAs("worker", "evil-machine"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a second join under worker's name: %v", err)
	}

	// Deleted: its certificate is refused by the API server and the
	// registry, and it cannot renew.
	ec, err := client.New(srv.cfg.Server, client.Options{TLS: evil.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	if _, err := ec.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "evil"}}); err != nil {
		t.Fatalf("the node registering itself: %v", err)
	}
	if _, _, err := admin.Nodes().Delete(ctx, "", "evil", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted node's certificate refused", func() error {
		if _, err := ec.Nodes().Get(ctx, "", "evil"); status.Code(err) != codes.Unauthenticated {
			return fmt.Errorf("still served: %v", err)
		}
		return nil
	})
	if err := evil.Renew(ctx, ec.Conn(), "evil", nil); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("renewal after deletion: %v", err)
	}
	resp, err := (&http.Client{Transport: evil.ImageTransport()}).Get("https://" + srv.registry + "/v2/_catalog")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the deleted node pulling from the registry: %d, want 403", resp.StatusCode)
	}
}

// An unprivileged user on the server host (a throwaway uid, no groups)
// gets nothing from the embedded etcd, the registry or the server's data
// directory.
func TestHostileLocalUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: to run commands as another uid")
	}
	for _, tool := range []string{"setpriv", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	srv := startTLSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := dial(t, srv.cfgPath)
	eventually(t, "server answers the admin", func() error { return admin.WaitReady(ctx) })
	if _, err := admin.Pods().Create(ctx, &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "secret-holder"}, Spec: &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "x"}}}}); err != nil {
		t.Fatal(err)
	}
	// Let the data dir's own modes decide, not the test's temp dirs.
	openToOthers(t, srv.dir)
	asNobody := nobody(ctx, t)
	// Control: the server's own etcd client certificate reads the store.
	pkiDir := filepath.Join(srv.dataDir, "pki")
	kp, err := pki.ReadKeyPair(filepath.Join(pkiDir, "etcd-client.crt"), filepath.Join(pkiDir, "etcd-client.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ReadCertFile(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{"https://" + srv.etcd}, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		TLS: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{kp.TLSCertificate()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	got, err := etcd.Get(ctx, "", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil || !strings.Contains(fmt.Sprint(got.Kvs), "secret-holder") {
		t.Fatalf("control: the server's etcd client reads the store: %v", err)
	}
	// Nobody, with whatever it can reach: plain HTTP (the JSON gateway an
	// open etcd serves) or TLS without a certificate.
	for _, url := range []string{"http://" + srv.etcd + "/v3/kv/range", "https://" + srv.etcd + "/v3/kv/range", "http://" + srv.etcd + "/version"} {
		out, err := asNobody("curl", "-sSk", "--max-time", "10", "-X", "POST", "-d", `{"key":"AA==","range_end":"AA=="}`, url)
		if err == nil || strings.Contains(out, "secret-holder") || strings.Contains(out, "etcdserver") {
			t.Errorf("nobody reached etcd at %s: %v %s", url, err, out)
		}
	}
	// The registry: no reads, no writes, no deletes.
	for _, req := range [][]string{
		{"-X", "GET", "https://" + srv.registry + "/v2/_catalog"},
		{"-X", "PUT", "-H", "Content-Type: application/vnd.oci.image.manifest.v1+json", "-d", "{}", "https://" + srv.registry + "/v2/app/manifests/1"},
		{"-X", "POST", "https://" + srv.registry + "/v2/app/blobs/uploads/"},
		{"-X", "DELETE", "https://" + srv.registry + "/v2/app/manifests/1"},
	} {
		out, err := asNobody(append([]string{"curl", "-sk", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"}, req...)...)
		if err != nil || strings.TrimSpace(out) != "401" {
			t.Errorf("nobody %v: %s (%v), want 401", req, out, err)
		}
	}
	// The server's data: keys, tokens, node passwords, the store, images.
	for _, f := range []string{"pki/ca.key", "pki/etcd-client.key", "pki/server.key", "pki/nodes.json", "token", "tokens.json"} {
		if out, err := asNobody("cat", filepath.Join(srv.dataDir, f)); err == nil {
			t.Errorf("nobody read %s: %.80s", f, out)
		}
	}
	for _, d := range []string{"", "etcd", "registry", "pki"} {
		if out, err := asNobody("ls", filepath.Join(srv.dataDir, d)); err == nil {
			t.Errorf("nobody listed %s: %.200s", filepath.Join(srv.dataDir, d), out)
		}
	}
}

// nobody returns a runner of commands as uid and gid 65534 with no
// groups: a local user with no business on the machine.
func nobody(ctx context.Context, t *testing.T, prefix ...string) func(args ...string) (string, error) {
	t.Helper()
	run := func(args ...string) (string, error) {
		argv := append(append(append([]string{}, prefix...), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"), args...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("id", "-u"); err != nil || strings.TrimSpace(out) != "65534" {
		t.Fatalf("setpriv: %v %s", err, out)
	}
	return run
}

// openToOthers makes dir and the test's temp directories above it
// traversable by everyone, so that what skiff made inside decides what
// another user reaches (t.TempDir makes them 0700).
func openToOthers(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostileLocalUserOnANode: on a node (`skiff up`), a local user gets
// nothing from the agent's endpoint (it demands a certificate of the
// cluster CA) nor from what the agent keeps on disk: its keys, the
// containers' state (their env may hold Secret values) and images.
func TestHostileLocalUserOnANode(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	c := newUpCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eventually(t, "the node is ready", func() error {
		out, err := c.Skiff("get", "nodes")
		if err == nil && !strings.Contains(out, " Ready") {
			err = fmt.Errorf("not ready yet:\n%s", out)
		}
		return err
	})
	openToOthers(t, c.dataDir)
	openToOthers(t, c.runDir)
	asNobody := nobody(ctx, t, "nsenter", "--net=/run/netns/"+c.ns, "--")
	// The agent's endpoint: the TLS handshake fails without a client
	// certificate (curl: 35, 55 or 56 by where the alert lands), before
	// any request is read.
	out, err := asNobody("curl", "-sk", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:10250/")
	if code, ok := asExit(err); !ok || (code != 35 && code != 55 && code != 56) {
		t.Errorf("nobody reached the agent's endpoint: %v (%s), want a refused handshake (curl 35, 55 or 56)", err, out)
	}
	// What the agent and its containers keep.
	for _, d := range []string{
		filepath.Join(c.dataDir, "agent", "runtime"),
		filepath.Join(c.dataDir, "agent", "images"),
		filepath.Join(c.runDir, "runtime"),
	} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: %v (the test expects skiff up to make it)", d, err)
			continue
		}
		if out, err := asNobody("ls", d); err == nil {
			t.Errorf("nobody listed %s: %.200s", d, out)
		}
	}
	if out, err := asNobody("cat", filepath.Join(c.dataDir, "pki", "ca.key")); err == nil {
		t.Errorf("nobody read the CA key: %.40s", out)
	}
}
