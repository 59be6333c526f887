package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultGCDelay is how long an unreferenced blob or untagged manifest is
// kept before garbage collection removes it, as zot's gcDelay: a push
// uploads its blobs before the manifest that references them, and reuses
// blobs it found with HEAD, so a young blob may belong to a push in
// flight.
const DefaultGCDelay = time.Hour

// manifestRefs are the digests a manifest or index body references.
type manifestRefs struct {
	Config    *struct{ Digest string }  `json:"config"`
	Layers    []struct{ Digest string } `json:"layers"`
	Manifests []struct{ Digest string } `json:"manifests"`
}

func parseRefs(body []byte) (manifestRefs, error) {
	var m manifestRefs
	err := json.Unmarshal(body, &m)
	return m, err
}

// missingBlobs are the config and layers of an image manifest body that
// the store does not hold. A manifest whose blobs are gone would be an
// image nobody can pull, so its PUT is refused, as distribution does.
func (r *Registry) missingBlobs(body []byte) ([]string, error) {
	m, err := parseRefs(body)
	if err != nil {
		return nil, err
	}
	var want []string
	if m.Config != nil {
		want = append(want, m.Config.Digest)
	}
	for _, l := range m.Layers {
		want = append(want, l.Digest)
	}
	var missing []string
	for _, d := range want {
		h, err := v1.NewHash(d)
		if err != nil {
			return nil, fmt.Errorf("digest %q: %w", d, err)
		}
		if _, err := r.blobs.Stat(context.Background(), "", h); err != nil {
			missing = append(missing, d)
		}
	}
	return missing, nil
}

// CollectGarbage removes what no tag reaches any more and is older than
// the GC delay: untagged manifests (a deleted tag's image, unless another
// tag or an index still lists it) and blobs no kept manifest references.
// It runs after every manifest delete and every GC delay; it holds the
// manifest write lock, so no manifest lands halfway through it.
func (r *Registry) CollectGarbage() (removed int, err error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	cutoff := time.Now().Add(-r.gcDelay)
	refs, err := r.loadRefs()
	if err != nil {
		return 0, err
	}
	// Tags are the roots; follow indexes to the manifests they list.
	reachable := map[string]bool{} // repo@digest
	bodies := map[string][]byte{}
	var visit func(repo, digest string)
	visit = func(repo, digest string) {
		if reachable[repo+"@"+digest] {
			return
		}
		reachable[repo+"@"+digest] = true
		h, err := v1.NewHash(digest)
		if err != nil {
			return
		}
		body, err := r.blobs.readBytes(h)
		if err != nil {
			return
		}
		bodies[digest] = body
		if m, err := parseRefs(body); err == nil {
			for _, c := range m.Manifests {
				visit(repo, c.Digest)
			}
		}
	}
	for _, ref := range refs {
		if !isDigest(ref.target) {
			visit(ref.repo, ref.Digest)
		}
	}
	// Untagged manifests: kept while young, else deleted.
	for _, ref := range refs {
		if !isDigest(ref.target) || reachable[ref.repo+"@"+ref.target] {
			continue
		}
		if fi, err := os.Stat(r.refFile(ref.repo, ref.target)); err != nil || fi.ModTime().After(cutoff) {
			visit(ref.repo, ref.target) // young: keep it and what it references
			continue
		}
		req := httptest.NewRequest(http.MethodDelete, "/v2/"+ref.repo+"/manifests/"+ref.target, nil)
		r.inner.ServeHTTP(httptest.NewRecorder(), req)
		if err := os.Remove(r.refFile(ref.repo, ref.target)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed++
	}
	// Blobs the kept manifests reference.
	used := map[string]bool{}
	for digest, body := range bodies {
		used[digest] = true
		m, err := parseRefs(body)
		if err != nil {
			continue
		}
		if m.Config != nil {
			used[m.Config.Digest] = true
		}
		for _, l := range m.Layers {
			used[l.Digest] = true
		}
	}
	dir := filepath.Join(r.blobs.dir, "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return removed, err
	}
	for _, e := range entries {
		digest := "sha256:" + e.Name()
		if used[digest] || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		ok, err := r.blobs.removeIfOlder(filepath.Join(dir, e.Name()), cutoff)
		if err != nil {
			return removed, err
		}
		if ok {
			removed++
		}
	}
	if removed > 0 {
		r.log.Info("registry: garbage collected", "removed", removed)
	}
	return removed, nil
}
