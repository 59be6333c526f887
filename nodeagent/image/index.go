package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// index is the store's metadata, kept in one JSON file replaced atomically.
// It is small: a record per image reference and per layer.
type index struct {
	Images map[string]*imageRecord `json:"images"` // by canonical reference
	Layers map[string]*layerRecord `json:"layers"` // by compressed digest
}

type imageRecord struct {
	Ref          string      `json:"ref"`
	Digest       string      `json:"digest"`       // manifest
	ConfigDigest string      `json:"configDigest"` // the image ID
	ManifestSize int64       `json:"manifestSize"`
	ConfigSize   int64       `json:"configSize"`
	Layers       []string    `json:"layers"` // compressed digests, bottom first
	Config       ImageConfig `json:"config"`
	Created      time.Time   `json:"created"`
	LastUsed     time.Time   `json:"lastUsed"`
}

type layerRecord struct {
	Digest       string `json:"digest"`
	DiffID       string `json:"diffID"`
	Size         int64  `json:"size"`         // compressed blob
	UnpackedSize int64  `json:"unpackedSize"` // approximate
}

func loadIndex(file string) (*index, error) {
	ix := &index{Images: map[string]*imageRecord{}, Layers: map[string]*layerRecord{}}
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return ix, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	if err := json.Unmarshal(b, ix); err != nil {
		return nil, fmt.Errorf("load index %s: %w", file, err)
	}
	if ix.Images == nil {
		ix.Images = map[string]*imageRecord{}
	}
	if ix.Layers == nil {
		ix.Layers = map[string]*layerRecord{}
	}
	return ix, nil
}

// save writes the index to a temp file, syncs it and renames it over the
// old one, so a crash leaves either the old or the new index.
func (ix *index) save(file string) error {
	b, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	if err := writeFileAtomic(file, b); err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	return nil
}

func writeFileAtomic(file string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(file), ".tmp-"+filepath.Base(file)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), file)
}

// blobs are an image's own small blobs: its manifest and config.
func (r *imageRecord) blobs() []string {
	return []string{r.Digest, r.ConfigDigest}
}

// usage is the bytes the store holds: blobs and unpacked layers.
func (ix *index) usage() int64 {
	var n int64
	seen := map[string]bool{}
	for _, img := range ix.Images {
		for _, d := range img.blobs() {
			if !seen[d] {
				seen[d] = true
				n += img.sizeOf(d)
			}
		}
	}
	for _, l := range ix.Layers {
		n += l.Size + l.UnpackedSize
	}
	return n
}

func (r *imageRecord) sizeOf(d string) int64 {
	if d == r.Digest {
		return r.ManifestSize
	}
	return r.ConfigSize
}
