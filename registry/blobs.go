package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// diskBlobs stores blobs as files named by digest. Unlike pkg/registry's
// own disk handler it answers Stat from the file size instead of hashing
// the blob again on every HEAD; digests are checked once, on upload.
type diskBlobs struct {
	dir string // blobs/
	tmp string // same filesystem, for atomic renames
	// gcMu orders garbage collection's check-and-remove of a blob against
	// a push refreshing it (touch), so a blob a push just found is kept.
	gcMu sync.Mutex
}

// touch marks a blob as just used by a push (its mtime), which keeps it
// from garbage collection for the GC delay; false if there is no such
// blob.
func (d *diskBlobs) touch(h v1.Hash) bool {
	p, err := d.path(h)
	if err != nil {
		return false
	}
	d.gcMu.Lock()
	defer d.gcMu.Unlock()
	now := time.Now()
	return os.Chtimes(p, now, now) == nil
}

// removeIfOlder removes the blob file p unless it was written or touched
// after cutoff.
func (d *diskBlobs) removeIfOlder(p string, cutoff time.Time) (bool, error) {
	d.gcMu.Lock()
	defer d.gcMu.Unlock()
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil || fi.ModTime().After(cutoff) {
		return false, err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("blob gc: %w", err)
	}
	return true, nil
}

func (d *diskBlobs) path(h v1.Hash) (string, error) {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return "", fmt.Errorf("unsupported digest %s", h)
	}
	return filepath.Join(d.dir, h.Algorithm, h.Hex), nil
}

func (d *diskBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	p, err := d.path(h)
	if err != nil {
		return 0, ggcr.ErrNotFound
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, ggcr.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("blob stat: %w", err)
	}
	return fi.Size(), nil
}

func (d *diskBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	p, err := d.path(h)
	if err != nil {
		return nil, ggcr.ErrNotFound
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ggcr.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("blob get: %w", err)
	}
	return f, nil
}

// Put stores rc, which pkg/registry wraps so that reading it to the end
// fails on a digest or size mismatch; only then is the file renamed into
// place.
func (d *diskBlobs) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	p, err := d.path(h)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(d.tmp, "upload-")
	if err != nil {
		return fmt.Errorf("blob put: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, rc)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("blob put %s: %w", h, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("blob put: %w", err)
	}
	return nil
}

func (d *diskBlobs) Delete(_ context.Context, _ string, h v1.Hash) error {
	p, err := d.path(h)
	if err != nil {
		return ggcr.ErrNotFound
	}
	err = os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return ggcr.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("blob delete: %w", err)
	}
	return nil
}

// putBytes stores a small blob (a manifest body) by its digest.
func (d *diskBlobs) putBytes(h v1.Hash, b []byte) error {
	p, err := d.path(h)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return d.Put(context.Background(), "", h, io.NopCloser(bytes.NewReader(b)))
}

func (d *diskBlobs) readBytes(h v1.Hash) ([]byte, error) {
	p, err := d.path(h)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// adopt moves a verified file (on the same filesystem) into the store.
func (d *diskBlobs) adopt(h v1.Hash, file string) error {
	p, err := d.path(h)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("blob adopt: %w", err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("blob adopt: %w", err)
	}
	if err := os.Rename(file, p); err != nil {
		return fmt.Errorf("blob adopt: %w", err)
	}
	return nil
}
