package storage

import (
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const root = "/skiff/"

// objectKey is /skiff/<plural>/<namespace>/<name> for namespaced kinds and
// /skiff/<plural>/<name> for the others.
func objectKey(info skiffv1.KindInfo, namespace, name string) string {
	if info.Namespaced {
		return root + info.Plural + "/" + namespace + "/" + name
	}
	return root + info.Plural + "/" + name
}

// prefixKey is the prefix of every object of a kind, in one namespace when
// namespace is set.
func prefixKey(info skiffv1.KindInfo, namespace string) string {
	if info.Namespaced && namespace != "" {
		return root + info.Plural + "/" + namespace + "/"
	}
	return root + info.Plural + "/"
}

// claimKey holds a unique value (a pod CIDR, say) for its owner.
func claimKey(claim string) string {
	return root + "_claims/" + strings.TrimPrefix(claim, "/")
}
