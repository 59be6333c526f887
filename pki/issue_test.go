package pki

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

func testCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA("test-ca", time.Hour*24*365, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestServerCertVerifies(t *testing.T) {
	ca := testCA(t)
	now := time.Now()
	kp, err := ca.IssueServer(ServerSpec{DNSNames: []string{"skiff.local"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "skiff.local"} {
		if err := VerifyServer(ca.Cert, kp.Cert, host, now); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if err := VerifyServer(ca.Cert, kp.Cert, "10.9.9.9", now); err == nil {
		t.Error("a host not in the SANs must not verify")
	}
	if err := VerifyServer(testCA(t).Cert, kp.Cert, "127.0.0.1", now); err == nil {
		t.Error("another CA must not verify the server certificate")
	}
	if _, err := VerifyClient(ca.Cert, kp.Cert, now); err == nil {
		t.Error("a server certificate must not pass as a client certificate")
	}
}

func TestClientCertCarriesIdentity(t *testing.T) {
	ca := testCA(t)
	now := time.Now()
	for _, id := range []Identity{{Name: Admin}, NodeIdentity("n1"), {Name: Scheduler}, {Name: Controller}} {
		kp, err := ca.IssueClient(id, 0, now)
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifyClient(ca.Cert, kp.Cert, now)
		if err != nil {
			t.Fatalf("%s: %v", id.Name, err)
		}
		if got.Name != id.Name || len(got.Groups) != len(id.Groups) {
			t.Errorf("identity = %+v, want %+v", got, id)
		}
	}
	if n, ok := NodeIdentity("n1").NodeName(); !ok || n != "n1" {
		t.Errorf("NodeName = %q %v", n, ok)
	}
	if _, ok := (Identity{Name: "node:"}).NodeName(); ok {
		t.Error("\"node:\" with no name is not a node identity")
	}
}

func TestSignCSRUsesTheServersIdentity(t *testing.T) {
	ca := testCA(t)
	now := time.Now()
	// The joiner asks to be admin; the server signs it as the node it is.
	csr, kp, err := NewCSR(Identity{Name: Admin})
	if err != nil {
		t.Fatal(err)
	}
	chainPEM, err := ca.SignCSR(csr, NodeIdentity("n1"), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCerts(chainPEM)
	if err != nil || len(certs) != 2 {
		t.Fatalf("chain: %d certs, %v", len(certs), err)
	}
	id, err := VerifyClient(ca.Cert, certs[0], now)
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "node:n1" {
		t.Errorf("identity = %q, want node:n1", id.Name)
	}
	full, err := kp.WithSignedChain(chainPEM)
	if err != nil {
		t.Fatalf("signed certificate is not for the CSR's key: %v", err)
	}
	if _, _, err := full.Write(t.TempDir(), "node"); err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := NewCSR(Identity{Name: "x"})
	if _, err := otherKey.WithSignedChain(chainPEM); err == nil {
		t.Error("a chain for another key was accepted")
	}
	if _, err := ca.SignCSR([]byte("junk"), NodeIdentity("n1"), time.Hour, now); err == nil {
		t.Error("junk CSR accepted")
	}
}

func TestNeedsRenewalAtTwoThirds(t *testing.T) {
	ca := testCA(t)
	start := time.Now()
	kp, err := ca.IssueClient(Identity{Name: "x"}, 90*time.Hour, start)
	if err != nil {
		t.Fatal(err)
	}
	life := kp.Cert.NotAfter.Sub(kp.Cert.NotBefore)
	if NeedsRenewal(kp.Cert, kp.Cert.NotBefore.Add(life/2)) {
		t.Error("renewal wanted at half the lifetime")
	}
	if !NeedsRenewal(kp.Cert, kp.Cert.NotBefore.Add(life*2/3+time.Second)) {
		t.Error("no renewal wanted past two thirds")
	}
	if !NeedsRenewal(kp.Cert, kp.Cert.NotAfter.Add(time.Hour)) {
		t.Error("no renewal wanted after expiry")
	}
}

func TestLeafNeverOutlivesCA(t *testing.T) {
	ca, err := NewCA("short", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueClient(Identity{Name: "x"}, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if kp.Cert.NotAfter.After(ca.Cert.NotAfter) {
		t.Error("leaf outlives its CA")
	}
}

func TestKeyPairWriteRead(t *testing.T) {
	ca := testCA(t)
	kp, err := ca.IssueClient(Identity{Name: Admin}, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath, err := kp.Write(dir, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if certPath != filepath.Join(dir, "admin.crt") || keyPath != filepath.Join(dir, "admin.key") {
		t.Errorf("paths %s %s", certPath, keyPath)
	}
	back, err := ReadKeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Cert.Equal(kp.Cert) || len(back.Chain) != 2 || !back.Chain[1].Equal(ca.Cert) {
		t.Error("read pair differs from written one")
	}
	other, _ := ca.IssueClient(Identity{Name: "y"}, 0, time.Now())
	if _, k2, err := other.Write(t.TempDir(), "y"); err != nil {
		t.Fatal(err)
	} else if _, err := ReadKeyPair(certPath, k2); err == nil {
		t.Error("mismatched key accepted")
	}
}
