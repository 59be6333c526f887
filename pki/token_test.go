package pki

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTokenRoundTrip(t *testing.T) {
	ca := testCA(t)
	tok, err := NewToken(ca.Cert, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s := tok.String()
	if !strings.HasPrefix(s, "K10"+CAHash(ca.Cert)+"::") {
		t.Fatalf("token %q is not K10<hash>::…", s)
	}
	back, err := ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	if back.CAHash != tok.CAHash || back.ID != tok.ID || back.Secret != tok.Secret {
		t.Errorf("parsed %+v, want %+v", back, tok)
	}
}

func TestParseTokenMalformed(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	for name, s := range map[string]string{
		"empty":          "",
		"bare bearer":    "abcdef.0123456789abcdef",
		"no separator":   "K10" + hash + "abcdef.0123456789abcdef",
		"short hash":     "K10abcd::abcdef.0123456789abcdef",
		"non-hex hash":   "K10" + strings.Repeat("zz", 32) + "::abcdef.0123456789abcdef",
		"no dot":         "K10" + hash + "::abcdef0123456789abcdef",
		"short secret":   "K10" + hash + "::abcdef.0123",
		"upper-case id":  "K10" + hash + "::ABCDEF.0123456789abcdef",
		"k3s user:pass":  "K10" + hash + "::server:secret",
		"trailing bytes": "K10" + hash + "::abcdef.0123456789abcdef.x",
	} {
		if _, err := ParseToken(s); !errors.Is(err, ErrMalformedToken) {
			t.Errorf("%s: err = %v, want ErrMalformedToken", name, err)
		}
	}
}

func TestTokenStore(t *testing.T) {
	ca := testCA(t)
	dir := t.TempDir()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewTokenStore(dir, ca.Cert)
	s.Now = func() time.Time { return now }

	tok, err := s.Create(time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	forever, err := s.Create(0, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, presented := range []string{tok.String(), tok.Bearer()} {
		if _, err := s.Validate(presented); err != nil {
			t.Errorf("valid token %q refused: %v", presented, err)
		}
	}

	wrongSecret := tok
	wrongSecret.Secret = strings.Repeat("a", tokenSecretLen)
	if _, err := s.Validate(wrongSecret.Bearer()); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("wrong secret: %v", err)
	}
	unknown := tok
	unknown.ID = "zzzzzz"
	if _, err := s.Validate(unknown.Bearer()); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("unknown id: %v", err)
	}
	otherCA := tok
	otherCA.CAHash = CAHash(testCA(t).Cert)
	if _, err := s.Validate(otherCA.String()); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("token for another CA: %v", err)
	}
	if _, err := s.Validate("not a token"); !errors.Is(err, ErrMalformedToken) {
		t.Errorf("malformed: %v", err)
	}

	now = now.Add(2 * time.Hour)
	if _, err := s.Validate(tok.Bearer()); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("expired token: %v", err)
	}
	if _, err := s.Validate(forever.Bearer()); err != nil {
		t.Errorf("token without ttl refused: %v", err)
	}

	if err := s.Revoke(forever.ID); err != nil {
		t.Fatal(err)
	}
	// A new store on the same dir (a restart, or `skiff token` next to the
	// server) sees the revocation.
	s2 := NewTokenStore(dir, ca.Cert)
	if _, err := s2.Validate(forever.Bearer()); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("revoked token: %v", err)
	}
	if err := s2.Revoke("nosuch"); !errors.Is(err, ErrTokenNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	list, err := s2.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %d, %v", len(list), err)
	}
	for _, info := range list {
		if strings.Contains(info.SecretHash, tok.Secret) || info.SecretHash == forever.Secret {
			t.Error("secret stored in clear")
		}
	}

	if err := s.Prune(now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("after prune: %d tokens kept", len(list))
	}
}
