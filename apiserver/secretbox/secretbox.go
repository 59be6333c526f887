// Package secretbox encrypts values at rest with AES-256-GCM under a ring
// of keys, like kube-apiserver's encryption providers: every sealed value
// starts with the id of the key that sealed it, so values sealed under an
// older key still open after a new key is added, and a re-encryption pass
// can find them.
package secretbox

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// prefix starts every sealed value: prefix, key id, ':', nonce, ciphertext.
const prefix = "skiff:enc:aesgcm:v1:"

// ErrNotSealed says a stored value was written before encryption (plain).
var ErrNotSealed = errors.New("secretbox: value is not encrypted")

type key struct {
	id   string
	aead cipher.AEAD
	raw  []byte
}

// Keyring holds the keys; the last one seals, all of them open.
type Keyring struct {
	keys []key
}

// LoadOrCreate reads the key file at path, making it with one new key
// (mode 0600) when it does not exist yet.
func LoadOrCreate(path string) (*Keyring, error) {
	k, err := load(path)
	if errors.Is(err, os.ErrNotExist) {
		k = &Keyring{}
		if err := k.add(); err != nil {
			return nil, err
		}
		return k, k.write(path)
	}
	return k, err
}

// Rotate adds a new key to the file at path (made when missing) and makes
// it the one that seals. Values sealed under the older keys still open.
func Rotate(path string) (*Keyring, error) {
	k, err := load(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err = &Keyring{}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := k.add(); err != nil {
		return nil, err
	}
	return k, k.write(path)
}

// PrimaryID is the id of the key that seals.
func (k *Keyring) PrimaryID() string { return k.keys[len(k.keys)-1].id }

// Seal encrypts plain under the primary key. aad (the value's storage key)
// is authenticated too, so a sealed value cannot be moved to another key.
func (k *Keyring) Seal(plain, aad []byte) ([]byte, error) {
	p := k.keys[len(k.keys)-1]
	nonce := make([]byte, p.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	out := append([]byte(prefix+p.id+":"), nonce...)
	return p.aead.Seal(out, nonce, plain, aad), nil
}

// Open decrypts a sealed value; ErrNotSealed when it was stored plain.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	if !bytes.HasPrefix(sealed, []byte(prefix)) {
		return nil, ErrNotSealed
	}
	rest := sealed[len(prefix):]
	i := bytes.IndexByte(rest, ':')
	if i < 0 {
		return nil, errors.New("secretbox: sealed value has no key id")
	}
	id, body := string(rest[:i]), rest[i+1:]
	for _, kk := range k.keys {
		if kk.id != id {
			continue
		}
		n := kk.aead.NonceSize()
		if len(body) < n {
			return nil, errors.New("secretbox: sealed value is truncated")
		}
		plain, err := kk.aead.Open(nil, body[:n], body[n:], aad)
		if err != nil {
			return nil, fmt.Errorf("secretbox: value sealed under key %s does not open: %w", id, err)
		}
		return plain, nil
	}
	return nil, fmt.Errorf("secretbox: value sealed under key %s, which is not in the key file", id)
}

// SealedByPrimary reports whether a stored value is sealed under the
// primary key (false for plain values and older keys: re-encrypt those).
func (k *Keyring) SealedByPrimary(sealed []byte) bool {
	return bytes.HasPrefix(sealed, []byte(prefix+k.PrimaryID()+":"))
}

func (k *Keyring) add() error {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("secretbox: new key: %w", err)
	}
	next := 1
	if len(k.keys) > 0 {
		last, _ := strconv.Atoi(strings.TrimPrefix(k.PrimaryID(), "key"))
		next = last + 1
	}
	return k.append(fmt.Sprintf("key%d", next), raw)
}

func (k *Keyring) append(id string, raw []byte) error {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return fmt.Errorf("secretbox: key %s: %w", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("secretbox: key %s: %w", id, err)
	}
	k.keys = append(k.keys, key{id: id, aead: aead, raw: raw})
	return nil
}

// The key file has one "<id> <base64 key>" line per key, oldest first.
func load(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k := &Keyring{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, " ")
		raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if !ok || derr != nil || len(raw) != 32 || strings.Contains(id, ":") {
			return nil, fmt.Errorf("secretbox: %s line %d: want \"<id> <base64 of 32 bytes>\"", path, n+1)
		}
		if err := k.append(id, raw); err != nil {
			return nil, err
		}
	}
	if len(k.keys) == 0 {
		return nil, fmt.Errorf("secretbox: %s holds no key", path)
	}
	return k, nil
}

func (k *Keyring) write(path string) error {
	var b strings.Builder
	b.WriteString("# Keys that encrypt Secrets in etcd, oldest first; the last one encrypts.\n# Losing this file loses every Secret.\n")
	for _, kk := range k.keys {
		fmt.Fprintf(&b, "%s %s\n", kk.id, base64.StdEncoding.EncodeToString(kk.raw))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
