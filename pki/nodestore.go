package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// NodesFile is the node store's file in the server's pki directory.
const NodesFile = "nodes.json"

// Errors of the node store.
var (
	// ErrNodePassword: a join under a node name already claimed, with
	// another node password (another machine, or a stolen token).
	ErrNodePassword = errors.New("node password does not match the one this node name joined with")
	// ErrNodeUnknown: the node never joined, or its Node was deleted (its
	// certificates revoked).
	ErrNodeUnknown = errors.New("node unknown: it never joined or it was deleted")
	// ErrCertRevoked: a certificate issued to a node that was deleted.
	ErrCertRevoked = errors.New("certificate revoked: its node was deleted")
)

// NodeStore is the server's memory of joined nodes, as k3s keeps node
// passwords: per node name the hash of the password it joined with and the
// serials of every certificate issued to it, plus the serials revoked when
// a node was deleted. It lives in memory, written through to a file 0600;
// the server process is its only writer.
type NodeStore struct {
	path string
	mu   sync.Mutex
	data nodeData
	// revoked indexes data.Revoked by serial, for the per-call check.
	revoked map[string]bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type nodeData struct {
	Nodes   map[string]*nodeRecord `json:"nodes"`
	Revoked []issuedCert           `json:"revoked"`
}

type nodeRecord struct {
	// PasswordHash is hex(salt) + ":" + hex(sha256(salt || password));
	// empty for a node the server made itself (skiff up's), which no
	// join may take over.
	PasswordHash string       `json:"passwordHash,omitempty"`
	Certs        []issuedCert `json:"certs"`
	Created      time.Time    `json:"created"`
	// Registered: its Node object was seen, so its absence later means
	// it was deleted (not that it has yet to register).
	Registered bool `json:"registered,omitempty"`
}

type issuedCert struct {
	Serial   string    `json:"serial"` // hex
	Node     string    `json:"node,omitempty"`
	NotAfter time.Time `json:"notAfter"`
}

// OpenNodeStore loads the store kept in dir (none yet is an empty store).
func OpenNodeStore(dir string) (*NodeStore, error) {
	s := &NodeStore{path: filepath.Join(dir, NodesFile), revoked: map[string]bool{}}
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("pki: node store: %w", err)
	default:
		if err := json.Unmarshal(b, &s.data); err != nil {
			return nil, fmt.Errorf("pki: node store %s: %w", s.path, err)
		}
	}
	if s.data.Nodes == nil {
		s.data.Nodes = map[string]*nodeRecord{}
	}
	for _, c := range s.data.Revoked {
		s.revoked[c.Serial] = true
	}
	return s, nil
}

func (s *NodeStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Claim checks a joining node's password: the first join under a name
// stores its hash, a later one must present the same password. A node the
// server made itself (ClaimLocal) cannot be joined at all.
func (s *NodeStore) Claim(node, password string) error {
	if password == "" {
		return errors.New("pki: a joining node must send its node password")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.data.Nodes[node]; ok {
		if !passwordMatches(rec.PasswordHash, password) {
			return fmt.Errorf("pki: node %s: %w", node, ErrNodePassword)
		}
		return nil
	}
	h, err := hashPassword(password)
	if err != nil {
		return err
	}
	s.data.Nodes[node] = &nodeRecord{PasswordHash: h, Created: s.now().UTC()}
	return s.save()
}

// ClaimLocal records a node whose certificates the server signs itself
// (skiff up's own agent): no password, and no join can take the name.
func (s *NodeStore) ClaimLocal(node string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.data.Nodes[node]; ok {
		rec.PasswordHash = ""
		return s.save()
	}
	s.data.Nodes[node] = &nodeRecord{Created: s.now().UTC()}
	return s.save()
}

// Known reports whether the node joined and was not deleted since.
func (s *NodeStore) Known(node string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data.Nodes[node]
	return ok
}

// Issued records certificates signed for a node, so that deleting the
// node revokes them. Expired entries are dropped on the way.
func (s *NodeStore) Issued(node string, certs ...*x509.Certificate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.data.Nodes[node]
	if !ok {
		return fmt.Errorf("pki: node %s: %w", node, ErrNodeUnknown)
	}
	now := s.now()
	kept := rec.Certs[:0]
	for _, c := range rec.Certs {
		if c.NotAfter.After(now) {
			kept = append(kept, c)
		}
	}
	for _, c := range certs {
		kept = append(kept, issuedCert{Serial: c.SerialNumber.Text(16), NotAfter: c.NotAfter.UTC()})
	}
	rec.Certs = kept
	return s.save()
}

// Delete forgets a node and revokes every certificate issued to it that
// has not expired: the name is free to join again, and the old
// certificates get nothing more from the server. Unknown nodes are a
// no-op.
func (s *NodeStore) Delete(node string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.data.Nodes[node]
	if !ok {
		return nil
	}
	now := s.now()
	kept := s.data.Revoked[:0]
	for _, c := range s.data.Revoked {
		if c.NotAfter.After(now) {
			kept = append(kept, c)
		} else {
			delete(s.revoked, c.Serial)
		}
	}
	for _, c := range rec.Certs {
		if c.NotAfter.After(now) {
			c.Node = node
			kept = append(kept, c)
			s.revoked[c.Serial] = true
		}
	}
	s.data.Revoked = kept
	delete(s.data.Nodes, node)
	return s.save()
}

// Revoked reports whether a certificate with this serial was revoked.
func (s *NodeStore) Revoked(serial *big.Int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked[serial.Text(16)]
}

// Registered notes that the node's Node object exists.
func (s *NodeStore) Registered(node string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.data.Nodes[node]
	if !ok || rec.Registered {
		return nil
	}
	rec.Registered = true
	return s.save()
}

// RegisteredNodes are the nodes whose Node object was seen: when one is
// missing from the API, it was deleted (perhaps while the server was down).
func (s *NodeStore) RegisteredNodes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n, rec := range s.data.Nodes {
		if rec.Registered {
			out = append(out, n)
		}
	}
	return out
}

func (s *NodeStore) save() error {
	b, err := json.MarshalIndent(&s.data, "", "  ")
	if err != nil {
		return fmt.Errorf("pki: node store: %w", err)
	}
	return WriteFile(s.path, append(b, '\n'), 0o600)
}

// NewNodePassword is a fresh random node password, as an agent makes at
// its first join.
func NewNodePassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("pki: node password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func hashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("pki: node password: %w", err)
	}
	return hex.EncodeToString(salt) + ":" + saltedHash(salt, password), nil
}

func saltedHash(salt []byte, password string) string {
	sum := sha256.Sum256(append(append([]byte(nil), salt...), password...))
	return hex.EncodeToString(sum[:])
}

func passwordMatches(stored, password string) bool {
	saltHex, want, ok := strings.Cut(stored, ":")
	salt, err := hex.DecodeString(saltHex)
	if !ok || err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(saltedHash(salt, password)), []byte(want)) == 1
}
