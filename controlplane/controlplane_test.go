package controlplane

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// start runs a control plane on loopback, in t's temporary directory, until
// the test ends.
func start(t *testing.T, insecure bool) (*ControlPlane, Config) {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{
		DataDir: filepath.Join(dir, "server"), Listen: "127.0.0.1:0", EtcdListen: "127.0.0.1:0",
		ClusterCIDR: "10.88.0.0/16", ClientConfig: filepath.Join(dir, "cli", "config"),
		RegistryAddr: "127.0.0.1:0", ClusterDomain: "cluster.local",
		Insecure: insecure, Metrics: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil && ctx.Err() == nil {
			t.Errorf("control plane: %v", err)
		}
	})
	// Start's context is the control plane's lifetime, not a deadline.
	cp, err := Start(gctx, g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cp == nil {
		t.Fatal("the control plane did not get ready")
	}
	return cp, cfg
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createPod creates pod default/p, which no node can run, as admin; the
// client is closed when the test ends.
func createPod(ctx context.Context, t *testing.T, cp *ControlPlane) *client.Client {
	t.Helper()
	c, err := cp.Client(pki.Admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pod := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:     &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "c", Image: "busybox"}}},
	}
	if _, err := c.Pods().Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitUnschedulable waits until the scheduler has marked pod default/p
// unschedulable: proof that it runs and reads the pod.
func waitUnschedulable(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	for {
		got, err := c.Pods().Get(ctx, "default", "p")
		if err != nil {
			t.Fatal(err)
		}
		if cond := skiffv1.FindCondition(got.GetStatus().GetConditions(), skiffv1.PodScheduled); cond.GetReason() == skiffv1.ReasonUnschedulable {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the scheduler never marked the pod unschedulable: %v", got.GetStatus())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// An insecure control plane writes a plain client config, and its
// scheduler runs: a pod with no node to go to is marked unschedulable.
// StartDNS serves the cluster domain.
func TestInsecureControlPlane(t *testing.T) {
	cp, cfg := start(t, true)
	ctx := testCtx(t)
	if cp.TLS() {
		t.Fatal("an insecure control plane reports TLS")
	}
	if c, s, img, err := cp.LocalNodeTLS("n1", []string{"127.0.0.1"}); c != nil || s != nil || img != nil || err != nil {
		t.Fatalf("node TLS from an insecure control plane: %v %v %v %v", c, s, img, err)
	}
	written, err := client.LoadConfig(cfg.ClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	if written.Server != cp.Addr() || written.CA != "" {
		t.Fatalf("client config %+v, want server %s and no CA", written, cp.Addr())
	}
	waitUnschedulable(ctx, t, createPod(ctx, t, cp))

	g, gctx := errgroup.WithContext(ctx)
	ready := make(chan string, 1)
	if err := cp.StartDNS(gctx, g, "127.0.0.1:0", func(addr string) { ready <- addr }); err != nil {
		t.Fatal(err)
	}
	var addr string
	select {
	case addr = <-ready:
	case <-ctx.Done():
		t.Fatal("DNS never got ready")
	}
	m := new(dns.Msg)
	m.SetQuestion("nothing.default.svc.cluster.local.", dns.TypeA)
	in, err := dns.Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if in.Rcode != dns.RcodeNameError || !in.Authoritative {
		t.Fatalf("an unknown service: rcode %s, authoritative %v; want an authoritative NXDOMAIN", dns.RcodeToString[in.Rcode], in.Authoritative)
	}
}

// A TLS control plane writes an admin certificate and a join token;
// clients without a certificate are refused, and node restriction (which
// reads stored pods through the server) lets a node write only its own
// pods' status.
func TestTLSControlPlane(t *testing.T) {
	cp, cfg := start(t, false)
	ctx := testCtx(t)
	if !cp.TLS() {
		t.Fatal("a TLS control plane reports none")
	}
	token, err := os.ReadFile(filepath.Join(cfg.DataDir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.ParseToken(strings.TrimSpace(string(token))); err != nil {
		t.Fatalf("join token: %v", err)
	}
	admin := adminClient(t, cfg)
	if _, _, err := admin.Namespaces().List(ctx, client.ListOptions{}); err != nil {
		t.Fatalf("admin from the written config: %v", err)
	}
	// A lone server talks to its etcd in-process, and still lists itself
	// as the Healthy member that leads.
	if s := wantServerList(t, ctx, admin, "skiff", map[string]string{"skiff": ServerHealthy})["skiff"]; !s.GetLeader() {
		t.Fatalf("a lone server is not its etcd's leader in the server list: %v", s)
	}
	anon, err := client.New(cp.Addr(), client.Options{TLS: pki.ClientTLS(cp.pki.ca.Cert, nil, "")})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	if _, _, err := anon.Namespaces().List(ctx, client.ListOptions{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("a client without a certificate: %v, want Unauthenticated", err)
	}

	// Node n2 exists, or the garbage collector deletes the pods bound to it.
	if _, err := admin.Nodes().Create(ctx, &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n2"}}); err != nil {
		t.Fatal(err)
	}
	pod := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec:     &skiffv1.PodSpec{NodeName: "n2", Containers: []*skiffv1.Container{{Name: "c", Image: "busybox"}}},
	}
	if _, err := admin.Pods().Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	setPhase := func(node string) error {
		clientTLS, _, _, err := cp.LocalNodeTLS(node, []string{"127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.New(cp.Addr(), client.Options{TLS: clientTLS})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Pods().ModifyStatus(ctx, "default", "p", func(p *skiffv1.Pod) error {
			p.Status.Phase = skiffv1.PodRunning
			return nil
		})
		return err
	}
	if err := setPhase("n1"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("node n1 writing the status of n2's pod: %v, want PermissionDenied", err)
	}
	if err := setPhase("n2"); err != nil {
		t.Fatalf("node n2 writing its own pod's status: %v", err)
	}
}

// The embedded etcd of a TLS server admits only the server's own etcd
// client certificate: no certificate, or a certificate of the same CA for
// another identity (a node's), is refused by the real etcd client.
func TestEmbeddedEtcdRefusesUnauthenticatedClients(t *testing.T) {
	cp, _ := start(t, false)
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
