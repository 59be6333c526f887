package registry

import (
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Names as the distribution spec defines them. Checked before a name
// becomes a path on disk.
var (
	repoComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)
	tagName       = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	digestName    = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

func validRepo(repo string) bool {
	if repo == "" || len(repo) > 255 {
		return false
	}
	for _, c := range strings.Split(repo, "/") {
		if !repoComponent.MatchString(c) {
			return false
		}
	}
	return true
}

func validTarget(t string) bool { return tagName.MatchString(t) || digestName.MatchString(t) }

func isDigest(t string) bool { return digestName.MatchString(t) }

// manifestPath splits "/v2/<repo>/manifests/<target>".
func manifestPath(p string) (repo, target string, ok bool) {
	elems := strings.Split(p, "/")
	if len(elems) < 5 || elems[0] != "" || elems[1] != "v2" || elems[len(elems)-2] != "manifests" {
		return "", "", false
	}
	return strings.Join(elems[2:len(elems)-2], "/"), elems[len(elems)-1], true
}

// blobPath splits "/v2/<repo>/blobs/<digest>".
func blobPath(p string) (repo string, h v1.Hash, ok bool) {
	elems := strings.Split(p, "/")
	n := len(elems)
	if n < 5 || elems[0] != "" || elems[1] != "v2" || elems[n-2] != "blobs" || !digestName.MatchString(elems[n-1]) {
		return "", v1.Hash{}, false
	}
	h, err := v1.NewHash(elems[n-1])
	if err != nil {
		return "", v1.Hash{}, false
	}
	return strings.Join(elems[2:n-2], "/"), h, true
}
