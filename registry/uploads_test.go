package registry_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func do(t *testing.T, method, url string, body []byte, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestChunkedUploadGoesToDiskAndIsVerified(t *testing.T) {
	dir := t.TempDir()
	host, stop := serve(t, dir)
	base := "http://" + host
	blob := bytes.Repeat([]byte("skiff"), 100_000)
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(blob))

	resp := do(t, http.MethodPost, base+"/v2/chunked/blobs/uploads/", nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	loc := base + resp.Header.Get("Location")
	half := len(blob) / 2
	if r := do(t, http.MethodPatch, loc, blob[:half], "Content-Range", fmt.Sprintf("0-%d", half-1)); r.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH 1: %d", r.StatusCode)
	}
	if r := do(t, http.MethodPatch, loc, blob[half:], "Content-Range", "0-10"); r.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("PATCH with a range that does not continue: %d, want 416", r.StatusCode)
	}
	r := do(t, http.MethodPatch, loc, blob[half:], "Content-Range", fmt.Sprintf("%d-%d", half, len(blob)-1))
	if r.StatusCode != http.StatusAccepted || r.Header.Get("Range") != fmt.Sprintf("0-%d", len(blob)-1) {
		t.Fatalf("PATCH 2: %d %q", r.StatusCode, r.Header.Get("Range"))
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	if r := do(t, http.MethodPut, loc+sep+"digest=sha256:"+strings.Repeat("0", 64), nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT with the wrong digest: %d, want 400", r.StatusCode)
	}

	// Again, properly, in one PATCH and a final PUT with no body.
	resp = do(t, http.MethodPost, base+"/v2/chunked/blobs/uploads/", nil)
	loc = base + resp.Header.Get("Location")
	do(t, http.MethodPatch, loc, blob)
	if r := do(t, http.MethodPut, loc+sep+"digest="+digest, nil); r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d", r.StatusCode)
	}
	stop()

	host, _ = serve(t, dir)
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/chunked/blobs/"+digest, nil)
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	b, _ := io.ReadAll(got.Body)
	if got.StatusCode != http.StatusOK || !bytes.Equal(b, blob) {
		t.Errorf("GET after restart: %d, %d bytes", got.StatusCode, len(b))
	}
}
