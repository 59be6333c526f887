package controlplane

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/pki"
)

// In-process components keep their certificates fresh by themselves: a
// handshake past two thirds of the certificate's life gets a new one from
// the CA, later handshakes keep it, and nothing restarts.
func TestComponentCertificatesAreReissuedOnUse(t *testing.T) {
	start := time.Now()
	ca, err := pki.NewCA("test", 24*time.Hour, start)
	if err != nil {
		t.Fatal(err)
	}
	id := pki.Identity{Name: pki.Scheduler}
	kp, err := ca.IssueClient(id, time.Hour, start)
	if err != nil {
		t.Fatal(err)
	}
	clock := start
	issued := 0
	cfg := reissueOnUseAt(pki.ClientTLS(ca.Cert, pki.NewCertHolder(kp), ""), func(now time.Time) (*pki.KeyPair, error) {
		issued++
		return ca.IssueClient(id, time.Hour, now)
	}, func() time.Time { return clock })

	present := func() *tls.Certificate {
		t.Helper()
		c, err := cfg.GetClientCertificate(&tls.CertificateRequestInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	clock = start.Add(30 * time.Minute)
	if c := present(); c.Leaf.SerialNumber.Cmp(kp.Cert.SerialNumber) != 0 || issued != 0 {
		t.Fatalf("renewed at half its life (issued %d)", issued)
	}
	clock = start.Add(50 * time.Minute)
	renewed := present()
	if renewed.Leaf.SerialNumber.Cmp(kp.Cert.SerialNumber) == 0 || issued != 1 {
		t.Fatalf("not renewed past two thirds of its life (issued %d)", issued)
	}
	if renewed.Leaf.Subject.CommonName != pki.Scheduler || !renewed.Leaf.NotAfter.After(start.Add(time.Hour)) {
		t.Fatalf("renewed certificate: %v until %v", renewed.Leaf.Subject, renewed.Leaf.NotAfter)
	}
	clock = start.Add(55 * time.Minute)
	if c := present(); c.Leaf.SerialNumber.Cmp(renewed.Leaf.SerialNumber) != 0 || issued != 1 {
		t.Fatalf("the fresh certificate was not kept (issued %d)", issued)
	}
}

// The server side too: a serving configuration re-issues on use.
func TestServingCertificatesAreReissuedOnUse(t *testing.T) {
	start := time.Now()
	ca, _ := pki.NewCA("test", 24*time.Hour, start)
	spec := pki.ServerSpec{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Validity: time.Hour}
	kp, _ := ca.IssueServer(spec, start)
	clock := start.Add(59 * time.Minute)
	cfg := reissueOnUseAt(pki.ServerTLS(ca.Cert, pki.NewCertHolder(kp), pki.ClientCertRequired), func(now time.Time) (*pki.KeyPair, error) {
		return ca.IssueServer(spec, now)
	}, func() time.Time { return clock })
	c, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf.SerialNumber.Cmp(kp.Cert.SerialNumber) == 0 {
		t.Fatal("a serving certificate about to expire was presented")
	}
}

// The server's own certificate (the API's and the registry's) is
// re-issued like the components' once a running server is past two thirds
// of its life: the same names and identity, written down for the next
// start, and both listeners present it.
func TestServerCertificateIsReissuedWhileRunning(t *testing.T) {
	p, err := setupServerPKI(t.TempDir(), "127.0.0.1:6443", []string{"api.example"})
	if err != nil {
		t.Fatal(err)
	}
	old := p.server.Current()
	clock := old.NotBefore.Add(old.NotAfter.Sub(old.NotBefore) * 3 / 4)
	p.now = func() time.Time { return clock }
	api, registry := p.servingTLS(), p.servingTLS()
	c, err := api.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Fatal("a server certificate past two thirds of its life was presented")
	}
	if !pki.HasURI(c.Leaf, pki.APIServerURI) || !slices.Contains(c.Leaf.DNSNames, "api.example") || !c.Leaf.NotAfter.After(old.NotAfter) {
		t.Fatalf("re-issued certificate: URIs %v, names %v, until %v", c.Leaf.URIs, c.Leaf.DNSNames, c.Leaf.NotAfter)
	}
	if r, err := registry.GetCertificate(&tls.ClientHelloInfo{}); err != nil || r.Leaf.SerialNumber.Cmp(c.Leaf.SerialNumber) != 0 {
		t.Fatalf("the registry presents another certificate (%v)", err)
	}
	onDisk, err := pki.ReadCertFile(filepath.Join(p.dir, "server.crt"))
	if err != nil || onDisk.SerialNumber.Cmp(c.Leaf.SerialNumber) != 0 {
		t.Fatalf("the re-issued certificate was not written down (%v)", err)
	}
}
