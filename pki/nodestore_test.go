package pki

import (
	"errors"
	"testing"
	"time"
)

func TestNodeStorePasswordsAndRevocation(t *testing.T) {
	ca := testCA(t)
	dir := t.TempDir()
	s, err := OpenNodeStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Claim("n1", "secret-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim("n1", "secret-1"); err != nil {
		t.Fatalf("the same machine again: %v", err)
	}
	if err := s.Claim("n1", "secret-2"); !errors.Is(err, ErrNodePassword) {
		t.Fatalf("another password under n1: %v", err)
	}
	if err := s.Claim("n2", ""); err == nil {
		t.Fatal("an empty node password was accepted")
	}
	if err := s.ClaimLocal("local"); err != nil {
		t.Fatal(err)
	}
	if err := s.Claim("local", "anything"); !errors.Is(err, ErrNodePassword) {
		t.Fatalf("joining as the server's own node: %v", err)
	}
	kp, err := ca.IssueClient(NodeIdentity("n1"), 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ca.IssueClient(NodeIdentity("n3"), 0, time.Now())
	if err := s.Issued("n1", kp.Cert); err != nil {
		t.Fatal(err)
	}
	if err := s.Issued("nobody", kp.Cert); !errors.Is(err, ErrNodeUnknown) {
		t.Fatalf("certificates for an unknown node: %v", err)
	}
	if s.Revoked(kp.Cert.SerialNumber) {
		t.Fatal("revoked before deletion")
	}
	if err := s.Delete("n1"); err != nil {
		t.Fatal(err)
	}
	if !s.Revoked(kp.Cert.SerialNumber) || s.Revoked(other.Cert.SerialNumber) || s.Known("n1") {
		t.Fatal("deleting n1 must revoke n1's certificate, and only it")
	}
	// A restart keeps all of it; the freed name may be claimed anew.
	s2, err := OpenNodeStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Revoked(kp.Cert.SerialNumber) {
		t.Fatal("revocation lost across a restart")
	}
	if err := s2.Claim("local", "x"); !errors.Is(err, ErrNodePassword) {
		t.Fatalf("local node after restart: %v", err)
	}
	if err := s2.Claim("n1", "secret-2"); err != nil {
		t.Fatalf("the deleted node's name: %v", err)
	}
	// Revocations are dropped once the certificates expire.
	s2.Now = func() time.Time { return kp.Cert.NotAfter.Add(time.Hour) }
	if err := s2.Delete("local"); err != nil {
		t.Fatal(err)
	}
	if s2.Revoked(kp.Cert.SerialNumber) {
		t.Fatal("an expired certificate's revocation was kept")
	}
}
