package storage

import (
	"encoding/base64"
	"errors"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// olderToken is a token as servers before the watch cache served lists
// made it (the second page of pods at revision 24): still accepted.
const olderToken = "eyJ2Ijoic2tpZmYvdjEiLCJydiI6MjQsInN0YXJ0IjoiZGVmYXVsdC9wMDNcdTAwMDAiLCJraW5kIjoicG9kcyJ9"

func TestOlderTokenIsAccepted(t *testing.T) {
	info, _ := skiffv1.Info(skiffv1.Kind_KIND_POD)
	rev, start, err := ParseContinue(olderToken, info, "", "")
	if err != nil || rev != 24 || start != "default/p03\x00" {
		t.Fatalf("older token: %d %q %v", rev, start, err)
	}
	if tok := NewContinue(info, "", "", 24, "default/p03\x00"); tok != olderToken {
		t.Fatalf("the layout changed: %q, was %q", tok, olderToken)
	}
}

// FuzzContinueToken feeds arbitrary continue tokens, raw and as base64 of
// arbitrary bytes, to the decoder: it never panics, refuses with
// ErrBadContinue (which the API server answers as InvalidArgument naming
// continue), and what it accepts encodes back to a token that decodes to
// the same state.
func FuzzContinueToken(f *testing.F) {
	valid := encodeContinue(continueToken{Version: continueVersion, Revision: 42, Start: "default/web\x00", Kind: "pods", Namespace: "default", Selector: selectorID("app=web\x00")})
	f.Add(valid)
	f.Add(`{"v":"skiff/v1","rv":7,"start":"a\u0000","kind":"nodes"}`)
	f.Add(`{"v":"skiff/v1","rv":-1,"start":"a","kind":"pods","extra":1}`)
	f.Add(`{"v":"meta.k8s.io/v1","rv":1,"start":"a"}`)
	f.Add("")
	f.Add("e30")
	f.Add(olderToken)
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range []string{s, base64.RawURLEncoding.EncodeToString([]byte(s))} {
			got, err := decodeContinue(tok)
			if err != nil {
				if !errors.Is(err, ErrBadContinue) {
					t.Fatalf("%q refused with %v, not ErrBadContinue", tok, err)
				}
				continue
			}
			if got.Revision <= 0 || got.Start == "" || got.Version != continueVersion {
				t.Fatalf("%q accepted as %+v", tok, got)
			}
			again, err := decodeContinue(encodeContinue(got))
			if err != nil || again != got {
				t.Fatalf("%+v re-encoded decodes to %+v, %v", got, again, err)
			}
			// What the watch cache reads and writes: a token of a
			// selector-less list parses against its own kind and namespace
			// and is made again the same.
			if got.Selector != "" {
				continue
			}
			info := skiffv1.KindInfo{Plural: got.Kind, Namespaced: true}
			rev, start, err := ParseContinue(tok, info, got.Namespace, "")
			if err != nil || rev != got.Revision || start != got.Start {
				t.Fatalf("%+v: ParseContinue gave %d %q %v", got, rev, start, err)
			}
			if _, _, err := ParseContinue(tok, info, got.Namespace+"x", ""); !errors.Is(err, ErrBadContinue) {
				t.Fatalf("%+v accepted for another namespace: %v", got, err)
			}
			if again := NewContinue(info, got.Namespace, "", rev, start); again != encodeContinue(got) {
				t.Fatalf("%+v: NewContinue made %q, want %q", got, again, encodeContinue(got))
			}
		}
	})
}
