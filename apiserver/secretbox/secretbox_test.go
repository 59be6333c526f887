package secretbox

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpenRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pki", "secret-keys")
	k1, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, st.Mode())
	}
	plain := []byte("hunter2")
	sealed, err := k1.Seal(plain, []byte("/skiff/secrets/default/a"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatalf("sealed value %q holds the plaintext", sealed)
	}
	if _, err := k1.Open(sealed, []byte("/skiff/secrets/default/b")); err == nil {
		t.Fatal("a value opened under another storage key")
	}
	k2, err := Rotate(path)
	if err != nil {
		t.Fatal(err)
	}
	if k2.PrimaryID() == k1.PrimaryID() || k2.SealedByPrimary(sealed) {
		t.Fatalf("rotation kept primary %s", k2.PrimaryID())
	}
	got, err := k2.Open(sealed, []byte("/skiff/secrets/default/a"))
	if err != nil || string(got) != string(plain) {
		t.Fatalf("old value after rotation: %q, %v", got, err)
	}
	again, _ := LoadOrCreate(path)
	if again.PrimaryID() != k2.PrimaryID() {
		t.Fatalf("reloaded primary %s, want %s", again.PrimaryID(), k2.PrimaryID())
	}
	if _, err := again.Open([]byte("plain"), nil); err != ErrNotSealed {
		t.Fatalf("plain value: %v, want ErrNotSealed", err)
	}
}
