package pki

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateCAReusesAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	first, created, err := LoadOrCreateCA(dir, "skiff-ca")
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode = %v, want 0600", st.Mode().Perm())
	}
	again, created, err := LoadOrCreateCA(dir, "skiff-ca")
	if err != nil || created {
		t.Fatalf("restart: created=%v err=%v", created, err)
	}
	if !again.Cert.Equal(first.Cert) {
		t.Fatal("restart made a new CA instead of reusing the kept one")
	}
	if CAHash(again.Cert) != CAHash(first.Cert) {
		t.Fatal("CA hash changed across restart")
	}
}

func TestLoadOrCreateCARefusesHalfACA(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadOrCreateCA(dir, "skiff-ca"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, CAKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(dir, "skiff-ca"); err == nil {
		t.Fatal("a CA cert without its key must be an error, not a silently new CA")
	}
}

func TestLoadCAKeyMismatch(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if _, _, err := LoadOrCreateCA(a, "a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(b, "b"); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(b, CAKeyFile))
	if err := os.WriteFile(filepath.Join(a, CAKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(a); err == nil {
		t.Fatal("a CA key that does not match the cert must be refused")
	}
}
