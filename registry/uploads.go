package registry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// uploads handles chunked blob uploads (POST, PATCH..., PUT) on disk.
// pkg/registry keeps an upload in memory until its final PUT, and holds a
// global lock while storing it; a large layer would sit in RAM. Monolithic
// uploads (POST with ?digest=) stream straight to disk there and are left
// to it.
type uploads struct {
	dir   string // tmp/uploads
	blobs *diskBlobs
}

var uploadID = regexp.MustCompile(`^[a-f0-9]{32}$`)

// uploadPath splits "/v2/<repo>/blobs/uploads/[<id>]".
func uploadPath(p string) (repo, id string, ok bool) {
	elems := strings.Split(p, "/")
	n := len(elems)
	if n < 6 || elems[0] != "" || elems[1] != "v2" {
		return "", "", false
	}
	if elems[n-3] == "blobs" && elems[n-2] == "uploads" {
		return strings.Join(elems[2:n-3], "/"), elems[n-1], true
	}
	return "", "", false
}

func (u *uploads) file(id string) string { return filepath.Join(u.dir, id) }

func (u *uploads) location(repo, id string) string {
	return "/v2/" + repo + "/blobs/uploads/" + id
}

// serve reports whether it handled the request.
func (u *uploads) serve(w http.ResponseWriter, req *http.Request) bool {
	repo, id, ok := uploadPath(req.URL.Path)
	if !ok {
		return false
	}
	switch {
	case req.Method == http.MethodPost && id == "" && req.URL.Query().Get("digest") == "":
		u.start(w, repo)
	case id == "":
		return false
	case !validRepo(repo) || !uploadID.MatchString(id):
		writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "unknown upload")
	case req.Method == http.MethodPatch:
		u.patch(w, req, repo, id)
	case req.Method == http.MethodPut:
		u.finish(w, req, repo, id)
	case req.Method == http.MethodGet:
		u.status(w, repo, id)
	case req.Method == http.MethodDelete:
		if err := os.Remove(u.file(id)); err != nil {
			writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "unknown upload")
			return true
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		return false
	}
	return true
}

func (u *uploads) start(w http.ResponseWriter, repo string) {
	if !validRepo(repo) {
		writeError(w, http.StatusBadRequest, "NAME_INVALID", fmt.Sprintf("invalid repository %q", repo))
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	f, err := os.OpenFile(u.file(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	f.Close()
	w.Header().Set("Location", u.location(repo, id))
	w.Header().Set("Docker-Upload-UUID", id)
	w.Header().Set("Range", "0-0")
	w.WriteHeader(http.StatusAccepted)
}

// appendBody adds the request body to the upload, checking Content-Range
// when given; it returns the new size.
func (u *uploads) appendBody(req *http.Request, id string) (int64, *apiError) {
	f, err := os.OpenFile(u.file(id), os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, &apiError{http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "unknown upload"}
	}
	if err != nil {
		return 0, &apiError{http.StatusInternalServerError, "UNKNOWN", err.Error()}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, &apiError{http.StatusInternalServerError, "UNKNOWN", err.Error()}
	}
	size := fi.Size()
	if cr := req.Header.Get("Content-Range"); cr != "" {
		var start, end int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(cr, "bytes="), "%d-%d", &start, &end); err != nil || start != size {
			return 0, &apiError{http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID",
				fmt.Sprintf("Content-Range %q does not continue at %d", cr, size)}
		}
	}
	n, err := io.Copy(f, req.Body)
	if err != nil {
		return 0, &apiError{http.StatusBadRequest, "BLOB_UPLOAD_INVALID", err.Error()}
	}
	return size + n, nil
}

func (u *uploads) patch(w http.ResponseWriter, req *http.Request, repo, id string) {
	size, aerr := u.appendBody(req, id)
	if aerr != nil {
		writeError(w, aerr.status, aerr.code, aerr.msg)
		return
	}
	w.Header().Set("Location", u.location(repo, id))
	w.Header().Set("Docker-Upload-UUID", id)
	w.Header().Set("Range", fmt.Sprintf("0-%d", max(size-1, 0)))
	w.WriteHeader(http.StatusAccepted)
}

func (u *uploads) status(w http.ResponseWriter, repo, id string) {
	fi, err := os.Stat(u.file(id))
	if err != nil {
		writeError(w, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "unknown upload")
		return
	}
	w.Header().Set("Location", u.location(repo, id))
	w.Header().Set("Range", fmt.Sprintf("0-%d", max(fi.Size()-1, 0)))
	w.WriteHeader(http.StatusNoContent)
}

// finish appends the last chunk, checks the digest and moves the upload
// into the blob store.
func (u *uploads) finish(w http.ResponseWriter, req *http.Request, repo, id string) {
	h, err := v1.NewHash(req.URL.Query().Get("digest"))
	if err != nil || h.Algorithm != "sha256" {
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", "missing or unsupported digest")
		return
	}
	if _, aerr := u.appendBody(req, id); aerr != nil {
		writeError(w, aerr.status, aerr.code, aerr.msg)
		return
	}
	file := u.file(id)
	got, err := fileDigest(file)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	if got != h.Hex {
		os.Remove(file)
		writeError(w, http.StatusBadRequest, "DIGEST_INVALID", fmt.Sprintf("content has digest sha256:%s", got))
		return
	}
	if err := u.blobs.adopt(h, file); err != nil {
		writeError(w, http.StatusInternalServerError, "UNKNOWN", err.Error())
		return
	}
	w.Header().Set("Location", "/v2/"+repo+"/blobs/"+h.String())
	w.Header().Set("Docker-Content-Digest", h.String())
	w.WriteHeader(http.StatusCreated)
}

func fileDigest(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	d := sha256.New()
	if _, err := io.Copy(d, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(d.Sum(nil)), nil
}

type apiError struct {
	status    int
	code, msg string
}
