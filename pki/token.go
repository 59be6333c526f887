package pki

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TokenPrefix starts every full join token, as in k3s ("K10" + CA hash).
const TokenPrefix = "K10"

// Token lengths and alphabet: kubeadm's bootstrap token shape, id.secret.
const (
	tokenIDLen     = 6
	tokenSecretLen = 16
	tokenAlphabet  = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// ErrMalformedToken is returned for a token that cannot be parsed.
var ErrMalformedToken = errors.New("malformed join token")

// Token is a join token: the hash of the cluster CA (so the joiner can
// check it reached the right cluster before it sends anything) and the
// id.secret pair the server checks. Its string form is
// K10<sha256 of the CA certificate's DER, hex>::<id>.<secret>.
type Token struct {
	CAHash string
	ID     string
	Secret string
	// Expires is zero for a token that does not expire. It is not part of
	// the string form: the server's token store decides.
	Expires time.Time
}

// NewToken makes a random token for the cluster whose CA is caCert; ttl 0
// means it never expires.
func NewToken(caCert *x509.Certificate, ttl time.Duration) (Token, error) {
	return newTokenAt(CAHash(caCert), ttl, time.Now())
}

func newTokenAt(caHash string, ttl time.Duration, now time.Time) (Token, error) {
	id, err := randomString(tokenIDLen)
	if err != nil {
		return Token{}, err
	}
	secret, err := randomString(tokenSecretLen)
	if err != nil {
		return Token{}, err
	}
	t := Token{CAHash: caHash, ID: id, Secret: secret}
	if ttl > 0 {
		t.Expires = now.Add(ttl)
	}
	return t, nil
}

// CAHash is the hex SHA-256 of the CA certificate's DER bytes.
func CAHash(caCert *x509.Certificate) string {
	sum := sha256.Sum256(caCert.Raw)
	return hex.EncodeToString(sum[:])
}

// String is the full token, K10<hash>::<id>.<secret>.
func (t Token) String() string {
	return TokenPrefix + t.CAHash + "::" + t.Bearer()
}

// Bearer is the part the joiner sends to the server: <id>.<secret>.
func (t Token) Bearer() string { return t.ID + "." + t.Secret }

// ParseToken reads a full token (K10<hash>::<id>.<secret>). A bare
// <id>.<secret> is refused: without the CA hash the joiner could not tell
// a real server from an impostor.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok {
		return Token{}, fmt.Errorf("%w: it must start with %q followed by the CA hash (copy it from the server's data dir or `skiff token create`)", ErrMalformedToken, TokenPrefix)
	}
	hash, bearer, ok := strings.Cut(rest, "::")
	if !ok {
		return Token{}, fmt.Errorf("%w: no \"::\" between the CA hash and <id>.<secret>", ErrMalformedToken)
	}
	if len(hash) != 2*sha256.Size || !isHex(hash) {
		return Token{}, fmt.Errorf("%w: the CA hash must be %d hex digits", ErrMalformedToken, 2*sha256.Size)
	}
	id, secret, err := ParseBearer(bearer)
	if err != nil {
		return Token{}, err
	}
	return Token{CAHash: strings.ToLower(hash), ID: id, Secret: secret}, nil
}

// ParseBearer splits <id>.<secret>, checking its shape.
func ParseBearer(s string) (id, secret string, err error) {
	id, secret, ok := strings.Cut(s, ".")
	if !ok || len(id) != tokenIDLen || len(secret) != tokenSecretLen || !inAlphabet(id) || !inAlphabet(secret) {
		return "", "", fmt.Errorf("%w: expected <id>.<secret> of %d and %d characters [a-z0-9]", ErrMalformedToken, tokenIDLen, tokenSecretLen)
	}
	return id, secret, nil
}

func randomString(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("pki: random token: %w", err)
		}
		// Reject bytes past the last multiple of 36 so every character is
		// equally likely.
		for _, b := range buf {
			if int(b) < 256-256%len(tokenAlphabet) && len(out) < n {
				out = append(out, tokenAlphabet[int(b)%len(tokenAlphabet)])
			}
		}
	}
	return string(out), nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func inAlphabet(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune(tokenAlphabet, r) {
			return false
		}
	}
	return true
}
