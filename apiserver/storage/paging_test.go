package storage

import (
	"encoding/base64"
	"errors"
	"testing"
)

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
		}
	})
}
