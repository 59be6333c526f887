package build

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Import reads an image from a tarball made by `docker save` (manifest.json)
// or from an OCI image layout in a tar (oci-layout, index.json; `docker
// save` of Docker 25+ writes both, and the OCI layout wins). An OCI index
// with several images is narrowed to linux on this machine's architecture.
// Layers are read from the file when needed, so it must stay in place
// until the image has been pushed.
func Import(file string) (v1.Image, error) {
	toc, err := readTOC(file)
	if err != nil {
		return nil, fmt.Errorf("build: import %s: %w", file, err)
	}
	switch {
	case toc.has("oci-layout") && toc.has("index.json"):
		img, err := ociImage(file, toc)
		if err != nil {
			return nil, fmt.Errorf("build: import %s (OCI layout): %w", file, err)
		}
		return img, nil
	case toc.has("manifest.json"):
		img, err := tarball.ImageFromPath(file, nil)
		if err != nil {
			return nil, fmt.Errorf("build: import %s (docker save): %w", file, err)
		}
		return img, nil
	}
	return nil, fmt.Errorf("build: import %s: neither a docker-save tarball (manifest.json) nor an OCI layout (oci-layout, index.json)", file)
}

// tarTOC says where each regular file's bytes sit in an uncompressed tar,
// so blobs can be read in place.
type tarTOC map[string]tocEntry

type tocEntry struct{ offset, size int64 }

func (t tarTOC) has(name string) bool { _, ok := t[name]; return ok }

func readTOC(file string) (tarTOC, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := &countingReader{r: f}
	tr := tar.NewReader(cr)
	toc := tarTOC{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return nil, fmt.Errorf("not a tar file: %w", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		// archive/tar reads headers block by block, so the count is
		// where this entry's content starts.
		toc[path.Clean(hdr.Name)] = tocEntry{offset: cr.n, size: hdr.Size}
	}
	return toc, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// open returns a reader over one file inside the tar.
func (t tarTOC) open(file, name string) (io.ReadCloser, error) {
	e, ok := t[path.Clean(name)]
	if !ok {
		return nil, fmt.Errorf("%s not in the tarball", name)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, e.offset, e.size), f}, nil
}

func (t tarTOC) read(file, name string) ([]byte, error) {
	rc, err := t.open(file, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
