package image

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Config configures a Store.
type Config struct {
	Root               string            // required; created if missing
	InsecureRegistries []string          // "host" or "host:port" reachable over plain HTTP
	Registries         Registries        // mirrors tried before a registry itself
	Keychain           authn.Keychain    // nil: anonymous
	Transport          http.RoundTripper // nil: http.DefaultTransport
	Platform           *v1.Platform      // nil: linux/GOARCH
	ParallelLayers     int               // layers fetched at once; 0: 3
	Logger             *slog.Logger      // nil: discard
}

// Image is an image in the store.
type Image struct {
	Ref       string   // canonical reference, e.g. "127.0.0.1:5000/busybox:latest"
	Digest    string   // manifest digest
	ID        string   // config digest
	Size      int64    // compressed bytes: layers, manifest, config
	Layers    []string // layer digests, bottom first
	LayerDirs []string // unpacked layers, top first: the overlay lowerdir order
	Config    ImageConfig
	Created   time.Time // when it was pulled
	LastUsed  time.Time
}

// Store keeps images on local disk. Its methods are safe for concurrent use.
type Store struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	ix     *index
	pinned map[string]int // layers a pull in flight relies on; GC keeps them

	pulls  flight[Image]
	layers flight[*layerRecord]
	now    func() time.Time
}

// New opens (or creates) a store under cfg.Root, dropping work a crash
// left half done.
func New(cfg Config) (*Store, error) {
	if cfg.Root == "" {
		return nil, errors.New("image: Config.Root is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Keychain == nil {
		cfg.Keychain = authn.NewMultiKeychain() // anonymous
	}
	if cfg.Platform == nil {
		cfg.Platform = &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	}
	if err := cfg.Registries.Validate(); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	// Endpoints written with http:// ask for plain HTTP to their hosts.
	cfg.InsecureRegistries = append(slices.Clone(cfg.InsecureRegistries), cfg.Registries.PlainHTTPHosts()...)
	if cfg.ParallelLayers <= 0 {
		cfg.ParallelLayers = 3
	}
	s := &Store{cfg: cfg, log: cfg.Logger, pinned: map[string]int{}, now: time.Now}
	if err := os.RemoveAll(s.tmpDir()); err != nil {
		return nil, fmt.Errorf("image: clean tmp: %w", err)
	}
	for _, d := range []string{filepath.Join(cfg.Root, "blobs", "sha256"), s.layersDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
	}
	// The root of a layer must be traversable by container users.
	if err := os.Chmod(s.layersDir(), 0o711); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	ix, err := loadIndex(s.indexFile())
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	s.ix = ix
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return s, nil
}

func (s *Store) indexFile() string { return filepath.Join(s.cfg.Root, "index.json") }
func (s *Store) layersDir() string { return filepath.Join(s.cfg.Root, "layers") }
func (s *Store) tmpDir() string    { return filepath.Join(s.cfg.Root, "tmp") }

// Digests reaching these helpers come from verified manifests or our own
// index, so they are "sha256:<hex>".
func (s *Store) blobPath(digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(s.cfg.Root, "blobs", alg, hex)
}

func (s *Store) layerDir(digest string) string {
	_, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(s.layersDir(), hex)
}

// recover makes the index and the disk agree after a crash: records of
// layers whose dir is gone are dropped, and dirs or blobs nothing refers
// to are removed.
func (s *Store) recover() error {
	keepLayers := map[string]bool{}
	keepBlobs := map[string]bool{}
	for d := range s.ix.Layers {
		if _, err := os.Stat(s.layerDir(d)); err != nil {
			delete(s.ix.Layers, d)
			continue
		}
		_, hex, _ := strings.Cut(d, ":")
		keepLayers[hex] = true
		keepBlobs[hex] = true
	}
	for _, img := range s.ix.Images {
		for _, d := range img.blobs() {
			_, hex, _ := strings.Cut(d, ":")
			keepBlobs[hex] = true
		}
	}
	if err := removeUnlisted(s.layersDir(), keepLayers); err != nil {
		return err
	}
	if err := removeUnlisted(filepath.Join(s.cfg.Root, "blobs", "sha256"), keepBlobs); err != nil {
		return err
	}
	return s.ix.save(s.indexFile())
}

func removeUnlisted(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("recover: %w", err)
			}
		}
	}
	return nil
}

// Get returns the image a reference (or a manifest digest or image ID)
// names, without touching the network. ErrNotPresent if it is not here.
func (s *Store) Get(ref string) (Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.match(ref)
	if len(recs) == 0 {
		return Image{}, fmt.Errorf("image: %s: %w", ref, ErrNotPresent)
	}
	return s.image(recs[0]), nil
}

// List returns every image, sorted by reference.
func (s *Store) List() []Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Image, 0, len(s.ix.Images))
	for _, r := range s.ix.Images {
		out = append(out, s.image(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}

// Usage is the bytes the store holds on disk (blobs plus unpacked
// layers, as counted at pull time).
func (s *Store) Usage() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ix.usage()
}

// match finds records by canonical reference, manifest digest or image
// ID. Callers hold s.mu.
func (s *Store) match(q string) []*imageRecord {
	if r, err := ParseReference(q, nil); err == nil {
		if rec, ok := s.ix.Images[r.Name()]; ok {
			return []*imageRecord{rec}
		}
	}
	var out []*imageRecord
	for _, rec := range s.ix.Images {
		if rec.Digest == q || rec.ConfigDigest == q || rec.Ref == q {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out
}

// image builds the public view of a record. Callers hold s.mu.
func (s *Store) image(r *imageRecord) Image {
	img := Image{
		Ref: r.Ref, Digest: r.Digest, ID: r.ConfigDigest,
		Size:   r.ManifestSize + r.ConfigSize,
		Layers: slices.Clone(r.Layers), Config: r.Config,
		Created: r.Created, LastUsed: r.LastUsed,
	}
	for i := len(r.Layers) - 1; i >= 0; i-- {
		d := r.Layers[i]
		img.LayerDirs = append(img.LayerDirs, s.layerDir(d))
		if l, ok := s.ix.Layers[d]; ok {
			img.Size += l.Size
		}
	}
	return img
}

// complete reports whether every layer of the record is unpacked.
// Callers hold s.mu.
func (s *Store) complete(r *imageRecord) bool {
	for _, d := range r.Layers {
		if _, ok := s.ix.Layers[d]; !ok {
			return false
		}
	}
	return true
}

// Remove deletes the images a reference, manifest digest or image ID
// names, and every layer and blob no other image uses.
func (s *Store) Remove(ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.match(ref)
	if len(recs) == 0 {
		return fmt.Errorf("image: remove %s: %w", ref, ErrNotPresent)
	}
	for _, r := range recs {
		delete(s.ix.Images, r.Ref)
	}
	s.sweep(recs)
	if err := s.ix.save(s.indexFile()); err != nil {
		return fmt.Errorf("image: remove %s: %w", ref, err)
	}
	return nil
}

// sweep deletes layers and blobs that no image refers to and no pull in
// flight relies on; removed are records just dropped from the index.
// Callers hold s.mu. Failures to delete are logged, not returned: the
// index is already right and recover() finishes the job at next start.
func (s *Store) sweep(removed []*imageRecord) int64 {
	used := map[string]bool{}
	for _, img := range s.ix.Images {
		for _, d := range img.Layers {
			used[d] = true
		}
		for _, d := range img.blobs() {
			used[d] = true
		}
	}
	var freed int64
	for d, l := range s.ix.Layers {
		if used[d] || s.pinned[d] > 0 {
			continue
		}
		delete(s.ix.Layers, d)
		freed += l.Size + l.UnpackedSize
		s.removePath(s.layerDir(d))
		s.removePath(s.blobPath(d))
	}
	for _, r := range removed {
		for _, d := range r.blobs() {
			if !used[d] {
				used[d] = true // once
				freed += r.sizeOf(d)
				s.removePath(s.blobPath(d))
			}
		}
	}
	return freed
}

func (s *Store) removePath(p string) {
	if err := os.RemoveAll(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("image: remove", "path", p, "err", err)
	}
}
