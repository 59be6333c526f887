package registry_test

import (
	"context"
	"crypto/tls"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/skiff-sh/skiff/pki"
	"github.com/skiff-sh/skiff/registry"
)

// A cluster registry over TLS with ClusterAuth, as `skiff server` runs it.
type clusterRegistry struct {
	host    string
	ca      *pki.CA
	tokens  *pki.TokenStore
	revoked map[string]bool
}

func serveCluster(t *testing.T) *clusterRegistry {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("test-ca", 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := &clusterRegistry{ca: ca, tokens: pki.NewTokenStore(dir, ca.Cert), revoked: map[string]bool{}}
	reg, err := registry.New(registry.Config{DataDir: filepath.Join(dir, "registry"), Auth: registry.ClusterAuth{
		Tokens: c.tokens, Revoked: func(s *big.Int) bool { return c.revoked[s.String()] },
	}})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueServer(pki.ServerSpec{IPs: []net.IP{net.ParseIP("127.0.0.1")}, URIs: []string{pki.APIServerURI}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- reg.Serve(ctx, tls.NewListener(ln, pki.ServerTLS(ca.Cert, pki.NewCertHolder(kp), pki.ClientCertOptional)))
	}()
	t.Cleanup(func() { cancel(); <-done })
	c.host = ln.Addr().String()
	return c
}

// as is a transport presenting a certificate for id (none when empty).
func (c *clusterRegistry) as(t *testing.T, id pki.Identity) (http.RoundTripper, *pki.KeyPair) {
	t.Helper()
	if id.Name == "" {
		return pki.RegistryTransport(c.ca.Cert, nil), nil
	}
	kp, err := c.ca.IssueClient(id, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return pki.RegistryTransport(c.ca.Cert, pki.NewCertHolder(kp)), kp
}

// Writes and deletes need an admin certificate or a registry-push token;
// nodes only pull; nobody without credentials gets anything, reads
// included; a blob is never deleted on request.
func TestRegistryAuthorization(t *testing.T) {
	c := serveCluster(t)
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := c.as(t, pki.Identity{Name: pki.Admin})
	node, nodeKP := c.as(t, pki.NodeIdentity("n1"))
	anon, _ := c.as(t, pki.Identity{})
	scheduler, _ := c.as(t, pki.Identity{Name: pki.Scheduler})
	app := ref(t, c.host+"/app:1")

	if err := remote.Write(app, img, remote.WithTransport(admin)); err != nil {
		t.Fatalf("admin push: %v", err)
	}
	if _, err := remote.Image(app, remote.WithTransport(node)); err != nil {
		t.Fatalf("node pull: %v", err)
	}
	if err := remote.Write(ref(t, c.host+"/app:evil"), img, remote.WithTransport(node)); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("node push: %v, want 403", err)
	}
	if err := remote.Delete(app, remote.WithTransport(node)); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("node delete: %v, want 403", err)
	}
	if _, err := remote.Image(app, remote.WithTransport(anon)); !isStatus(err, http.StatusUnauthorized) {
		t.Fatalf("anonymous pull: %v, want 401", err)
	}
	if err := remote.Write(ref(t, c.host+"/app:evil"), img, remote.WithTransport(anon)); !isStatus(err, http.StatusUnauthorized) {
		t.Fatalf("anonymous push: %v, want 401", err)
	}
	if _, err := remote.Image(app, remote.WithTransport(scheduler)); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("scheduler pull: %v, want 403", err)
	}

	// CI: a registry-push token as the basic-auth password pushes; a join
	// token does not.
	push, err := c.tokens.CreateFor(pki.UsageRegistryPush, time.Hour, "ci")
	if err != nil {
		t.Fatal(err)
	}
	join, err := c.tokens.Create(time.Hour, "join")
	if err != nil {
		t.Fatal(err)
	}
	ci := remote.WithAuth(&authn.Basic{Username: "token", Password: push.String()})
	if err := remote.Write(ref(t, c.host+"/ci:1"), img, remote.WithTransport(anon), ci); err != nil {
		t.Fatalf("push with a registry-push token: %v", err)
	}
	withJoin := remote.WithAuth(&authn.Basic{Username: "token", Password: join.String()})
	if err := remote.Write(ref(t, c.host+"/ci:2"), img, remote.WithTransport(anon), withJoin); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("push with a join token: %v, want 403", err)
	}

	// A shared blob cannot be deleted on its own, even by an admin.
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	req, _ := http.NewRequest(http.MethodDelete, "https://"+c.host+"/v2/app/blobs/"+d.String(), nil)
	resp, err := (&http.Client{Transport: admin}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("admin deleting a blob: %d, want 405", resp.StatusCode)
	}

	// A deleted node's certificate pulls nothing.
	c.revoked[nodeKP.Cert.SerialNumber.String()] = true
	revoked := pki.RegistryTransport(c.ca.Cert, pki.NewCertHolder(nodeKP))
	if _, err := remote.Image(app, remote.WithTransport(revoked)); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("revoked node pull: %v, want 403", err)
	}
}
