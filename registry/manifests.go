package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxManifest bounds a manifest body, as distribution does.
const maxManifest = 4 << 20

const refsDir = "_refs" // cannot be a repository name component

// refRecord is what a tag or digest of a repository points at.
type refRecord struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`

	repo, target string // from the file's path
}

func (r *Registry) refFile(repo, target string) string {
	return filepath.Join(r.dataDir, "manifests", filepath.FromSlash(repo), refsDir, target)
}

// writeManifest passes a manifest PUT or DELETE to pkg/registry and, when
// it succeeded, records it on disk before answering; it reports whether it
// did. Writes are serialised so the disk sees them in the order memory
// did, and garbage collection (which takes the same lock) never runs
// between a manifest's blob check and its recording.
func (r *Registry) writeManifest(w http.ResponseWriter, req *http.Request, repo, target string) bool {
	if !validRepo(repo) || !validTarget(target) {
		writeError(w, http.StatusBadRequest, "NAME_INVALID", fmt.Sprintf("invalid repository or reference %q:%q", repo, target))
		return false
	}
	var body []byte
	if req.Method == http.MethodPut {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxManifest+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", err.Error())
			return false
		}
		if len(b) > maxManifest {
			writeError(w, http.StatusRequestEntityTooLarge, "SIZE_INVALID", "manifest larger than 4 MiB")
			return false
		}
		body = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
	}

	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if body != nil {
		missing, err := r.missingBlobs(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "MANIFEST_INVALID", err.Error())
			return false
		}
		if len(missing) > 0 {
			writeError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blobs not in the registry: "+strings.Join(missing, ", "))
			return false
		}
	}
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)
	var err error
	switch {
	case req.Method == http.MethodPut && rec.Code == http.StatusCreated:
		err = r.recordPut(repo, target, req.Header.Get("Content-Type"), body)
	case req.Method == http.MethodDelete && rec.Code == http.StatusAccepted:
		err = os.Remove(r.refFile(repo, target))
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		r.log.Error("registry: record manifest", "repo", repo, "ref", target, "err", err)
		writeError(w, http.StatusInternalServerError, "UNKNOWN", "could not store the manifest")
		return false
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	return rec.Code == http.StatusCreated || rec.Code == http.StatusAccepted
}

// recordPut stores the body and points the target, and the digest it
// implies, at it.
func (r *Registry) recordPut(repo, target, mediaType string, body []byte) error {
	h, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if err := r.blobs.putBytes(h, body); err != nil {
		return err
	}
	b, err := json.Marshal(refRecord{MediaType: mediaType, Digest: h.String()})
	if err != nil {
		return err
	}
	for _, t := range []string{target, h.String()} {
		f := r.refFile(repo, t)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return err
		}
		if err := writeFileAtomic(f, b); err != nil {
			return err
		}
	}
	return nil
}

// loadRefs reads every recorded tag and digest.
func (r *Registry) loadRefs() ([]refRecord, error) {
	root := filepath.Join(r.dataDir, "manifests")
	var out []refRecord
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(p)) != refsDir || strings.HasPrefix(d.Name(), ".tmp-") {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(filepath.Dir(p)))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var rec refRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rec.repo, rec.target = filepath.ToSlash(rel), d.Name()
		out = append(out, rec)
		return nil
	})
	return out, err
}

// replay feeds the recorded manifests back into pkg/registry's memory.
// Image manifests go first: an index is accepted only once the manifests
// it lists are there.
func (r *Registry) replay() error {
	refs, err := r.loadRefs()
	if err != nil {
		return fmt.Errorf("replay manifests: %w", err)
	}
	recorded := map[string]bool{}
	for _, ref := range refs {
		recorded[ref.repo+"@"+ref.target] = true
	}
	pending := refs
	for len(pending) > 0 {
		var next []refRecord
		for _, ref := range pending {
			code, err := r.replayOne(ref)
			switch {
			case err != nil:
				r.log.Warn("registry: skip recorded manifest", "repo", ref.repo, "ref", ref.target, "err", err)
			case code == http.StatusNotFound && types.MediaType(ref.MediaType).IsIndex():
				next = append(next, ref) // its children are not in yet
			case code != http.StatusCreated:
				r.log.Warn("registry: skip recorded manifest", "repo", ref.repo, "ref", ref.target, "status", code)
			}
		}
		if len(next) == len(pending) {
			for _, ref := range next {
				r.log.Warn("registry: skip index with missing manifests", "repo", ref.repo, "ref", ref.target)
			}
			break
		}
		pending = next
	}
	// A PUT by tag also files the manifest under its digest; drop those
	// digests that were deleted on their own before the restart.
	for _, ref := range refs {
		if recorded[ref.repo+"@"+ref.Digest] {
			continue
		}
		req := httptest.NewRequest(http.MethodDelete, "/v2/"+ref.repo+"/manifests/"+ref.Digest, nil)
		r.inner.ServeHTTP(httptest.NewRecorder(), req)
		recorded[ref.repo+"@"+ref.Digest] = true
	}
	r.log.Info("registry: manifests loaded", "refs", len(refs))
	return nil
}

func (r *Registry) replayOne(ref refRecord) (int, error) {
	h, err := v1.NewHash(ref.Digest)
	if err != nil {
		return 0, err
	}
	body, err := r.blobs.readBytes(h)
	if err != nil {
		return 0, err
	}
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPut,
		"/v2/"+ref.repo+"/manifests/"+ref.target, bytes.NewReader(body))
	req.Header.Set("Content-Type", ref.MediaType)
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)
	return rec.Code, nil
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

func writeFileAtomic(file string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(file), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), file)
}
