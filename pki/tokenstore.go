package pki

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// TokensFile is the token store's file in the server's data dir.
const TokensFile = "tokens.json"

// Errors from TokenStore.Validate and Revoke. A wrong secret and an unknown
// id are the same ErrTokenInvalid, so a caller cannot probe for ids.
var (
	ErrTokenInvalid  = errors.New("join token not recognised")
	ErrTokenExpired  = errors.New("join token expired")
	ErrTokenRevoked  = errors.New("join token revoked")
	ErrTokenNotFound = errors.New("no such join token")
)

// Token usages: what a token lets its holder do.
const (
	// UsageJoin lets an agent join once (the default).
	UsageJoin = "join"
	// UsageRegistryPush lets a CI job push images to the cluster
	// registry (HTTP basic auth, the token as password).
	UsageRegistryPush = "registry-push"
	// UsageDashboard logs into the web dashboard once, with the admin's
	// authorization; UsageDashboardView with the read-only Viewer's.
	UsageDashboard     = "dashboard"
	UsageDashboardView = "dashboard-view"
)

// Usages lists every token usage.
func Usages() []string {
	return []string{UsageJoin, UsageRegistryPush, UsageDashboard, UsageDashboardView}
}

// ValidUsage reports whether usage is one of Usages.
func ValidUsage(usage string) bool {
	for _, u := range Usages() {
		if u == usage {
			return true
		}
	}
	return false
}

// TokenInfo is what the store keeps about a token. The secret itself is
// never stored, only its SHA-256, so a copy of tokens.json lets nobody join.
type TokenInfo struct {
	ID          string    `json:"id"`
	SecretHash  string    `json:"secretHash"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires,omitzero"`
	Revoked     time.Time `json:"revoked,omitzero"`
	// Usage is one of Usages; empty means UsageJoin.
	Usage string `json:"usage,omitempty"`
}

// UsageOrDefault is Usage, with UsageJoin for tokens made before usages.
func (i TokenInfo) UsageOrDefault() string {
	if i.Usage == "" {
		return UsageJoin
	}
	return i.Usage
}

// Expired reports whether the token has expired at now.
func (i TokenInfo) Expired(now time.Time) bool {
	return !i.Expires.IsZero() && !now.Before(i.Expires)
}

// TokenStore keeps join tokens in dir/tokens.json. Each call reads the file
// and writes it back atomically, so `skiff token` run next to the server
// and the server itself see the same tokens.
type TokenStore struct {
	path   string
	caHash string
	mu     sync.Mutex
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewTokenStore opens the store in dir for the cluster whose CA is caCert.
func NewTokenStore(dir string, caCert *x509.Certificate) *TokenStore {
	return &TokenStore{path: filepath.Join(dir, TokensFile), caHash: CAHash(caCert)}
}

func (s *TokenStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Create makes and keeps a new join token; ttl 0 means it never expires.
func (s *TokenStore) Create(ttl time.Duration, description string) (Token, error) {
	return s.CreateFor(UsageJoin, ttl, description)
}

// CreateFor makes and keeps a new token for usage (one of Usages).
func (s *TokenStore) CreateFor(usage string, ttl time.Duration, description string) (Token, error) {
	// Server tokens are made by the server itself (--cluster-init), never
	// through the Tokens service: they hand out the CA's key.
	if !ValidUsage(usage) && usage != UsageServer {
		return Token{}, fmt.Errorf("pki: token usage %q: want one of %s or %s", usage, strings.Join(Usages(), ", "), UsageServer)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	infos, err := s.load()
	if err != nil {
		return Token{}, err
	}
	var tok Token
	for {
		if tok, err = newTokenAt(s.caHash, ttl, s.now()); err != nil {
			return Token{}, err
		}
		if _, taken := find(infos, tok.ID); !taken {
			break
		}
	}
	infos = append(infos, TokenInfo{
		ID: tok.ID, SecretHash: hashSecret(tok.Secret), Description: description,
		Created: s.now().UTC(), Expires: tok.Expires.UTC(), Usage: usage,
	})
	if err := s.save(infos); err != nil {
		return Token{}, err
	}
	return tok, nil
}

// List returns every token kept, oldest first, including expired and
// revoked ones (so `skiff token list` can say why one no longer works).
func (s *TokenStore) List() ([]TokenInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	infos, err := s.load()
	if err != nil {
		return nil, err
	}
	sort.SliceStable(infos, func(i, j int) bool { return infos[i].Created.Before(infos[j].Created) })
	return infos, nil
}

// Revoke stops the token with this id from being accepted. The entry is
// kept, marked, so a later attempt is reported as revoked.
func (s *TokenStore) Revoke(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	infos, err := s.load()
	if err != nil {
		return err
	}
	i, ok := find(infos, id)
	if !ok {
		return fmt.Errorf("pki: %w %q", ErrTokenNotFound, id)
	}
	if infos[i].Revoked.IsZero() {
		infos[i].Revoked = s.now().UTC()
	}
	return s.save(infos)
}

// Prune drops tokens that expired or were revoked before cutoff.
func (s *TokenStore) Prune(cutoff time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	infos, err := s.load()
	if err != nil {
		return err
	}
	kept := infos[:0]
	for _, i := range infos {
		gone := (!i.Revoked.IsZero() && i.Revoked.Before(cutoff)) || (!i.Expires.IsZero() && i.Expires.Before(cutoff))
		if !gone {
			kept = append(kept, i)
		}
	}
	return s.save(kept)
}

// Validate checks a token a caller presented: a full K10… token (whose CA
// hash must be this cluster's) or the bare <id>.<secret> a joiner sends.
// The secret is compared in constant time; expiry and revocation are only
// reported once the secret matched.
func (s *TokenStore) Validate(presented string) (TokenInfo, error) {
	bearer := presented
	if strings.HasPrefix(presented, TokenPrefix) {
		tok, err := ParseToken(presented)
		if err != nil {
			return TokenInfo{}, fmt.Errorf("pki: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(tok.CAHash), []byte(s.caHash)) != 1 {
			return TokenInfo{}, fmt.Errorf("pki: %w: it was made for another cluster's CA", ErrTokenInvalid)
		}
		bearer = tok.Bearer()
	}
	id, secret, err := ParseBearer(bearer)
	if err != nil {
		return TokenInfo{}, fmt.Errorf("pki: %w", err)
	}
	s.mu.Lock()
	infos, err := s.load()
	s.mu.Unlock()
	if err != nil {
		return TokenInfo{}, err
	}
	want := hashSecret("") // compared against even for an unknown id: same timing
	i, found := find(infos, id)
	if found {
		want = infos[i].SecretHash
	}
	match := subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(want)) == 1
	if !found || !match {
		return TokenInfo{}, fmt.Errorf("pki: %w", ErrTokenInvalid)
	}
	info := infos[i]
	if !info.Revoked.IsZero() {
		return info, fmt.Errorf("pki: %w: token %s was revoked at %s", ErrTokenRevoked, id, info.Revoked.Format(time.RFC3339))
	}
	if info.Expired(s.now()) {
		return info, fmt.Errorf("pki: %w: token %s expired at %s", ErrTokenExpired, id, info.Expires.Format(time.RFC3339))
	}
	return info, nil
}

func (s *TokenStore) load() ([]TokenInfo, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pki: token store: %w", err)
	}
	var infos []TokenInfo
	if err := json.Unmarshal(data, &infos); err != nil {
		return nil, fmt.Errorf("pki: token store %s: %w", s.path, err)
	}
	return infos, nil
}

func (s *TokenStore) save(infos []TokenInfo) error {
	if infos == nil {
		infos = []TokenInfo{}
	}
	data, err := json.MarshalIndent(infos, "", "  ")
	if err != nil {
		return fmt.Errorf("pki: token store: %w", err)
	}
	return WriteFile(s.path, append(data, '\n'), 0o600)
}

func find(infos []TokenInfo, id string) (int, bool) {
	for i, info := range infos {
		if info.ID == id {
			return i, true
		}
	}
	return 0, false
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
