package apiserver

import (
	"context"
	"crypto/rand"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/validation"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// generatedNameTries bounds the draws of a generated name that keep
// hitting names already taken.
const generatedNameTries = 8

// createGenerated creates obj under a name made from its generateName, as
// Kubernetes does: the prefix (cut to leave room) and five random
// characters, drawn again while the name is taken.
func (s *Server) createGenerated(ctx context.Context, obj skiffv1.Resource, info skiffv1.KindInfo, dry bool) (*skiffv1.Object, error) {
	prefix := obj.GetMetadata().GetGenerateName()
	if err := validation.GenerateName(prefix, info); err != nil {
		return nil, toStatus(err, refOf(info, obj))
	}
	for try := 1; ; try++ {
		attempt := proto.Clone(obj).(skiffv1.Resource)
		attempt.GetMetadata().Name = generatedName(prefix, validation.MaxNameLength(info))
		out, err := s.create(ctx, attempt, info, dry)
		if status.Code(err) != codes.AlreadyExists || try == generatedNameTries {
			return out, err
		}
	}
}

// nameSuffixAlphabet is Kubernetes': no vowels (no words), no look-alikes.
const nameSuffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// generatedName is prefix, cut to leave room within maxLen, and five
// random characters.
func generatedName(prefix string, maxLen int) string {
	const n = validation.GeneratedSuffixLength
	if len(prefix) > maxLen-n {
		prefix = prefix[:maxLen-n]
	}
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = nameSuffixAlphabet[int(b[i])%len(nameSuffixAlphabet)]
	}
	return prefix + string(b)
}
