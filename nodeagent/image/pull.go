package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pull makes ref available locally according to policy ("" means
// DefaultPullPolicy) and returns it. Concurrent pulls of one reference
// share a single fetch; every caller's progress callback sees it.
// A successful Pull marks the image used now.
func (s *Store) Pull(ctx context.Context, ref string, policy PullPolicy, progress ProgressFunc) (Image, error) {
	return s.PullWithAuth(ctx, ref, policy, Auth{}, progress)
}

// Auth is credentials one pull brings beyond the store's keychain (a
// pod's imagePullSecrets).
type Auth struct {
	// Keychain is asked before the store's; nil adds nothing.
	Keychain authn.Keychain
	// ID names the credentials: only pulls with the same ID share a
	// fetch, so that one without credentials never answers one with.
	ID string
}

// PullWithAuth is Pull with auth's credentials. An image already on the
// node is used whoever pulled it, as the kubelet does by default.
func (s *Store) PullWithAuth(ctx context.Context, ref string, policy PullPolicy, auth Auth, progress ProgressFunc) (Image, error) {
	if policy == "" {
		policy = DefaultPullPolicy(ref)
	}
	if err := policy.validate(); err != nil {
		return Image{}, fmt.Errorf("image: pull %s: %w", ref, err)
	}
	r, err := ParseReference(ref, s.cfg.InsecureRegistries)
	if err != nil {
		return Image{}, err
	}
	key := r.Name()
	if policy != PullAlways {
		if img, ok := s.touch(key, ""); ok {
			return img, nil
		}
		if policy == PullNever {
			return Image{}, fmt.Errorf("image: %s: %w (pull policy is Never)", key, ErrNotPresent)
		}
	}
	return s.pulls.do(ctx, key+"\x00"+auth.ID, progress, func(ctx context.Context, report ProgressFunc) (Image, error) {
		img, err := s.pull(ctx, r, auth.Keychain, report)
		if err != nil {
			return Image{}, fmt.Errorf("image: pull %s: %w", key, err)
		}
		return img, nil
	})
}

// touch marks a complete local image used and returns it; with digest
// set, only if it is that manifest.
func (s *Store) touch(key, digest string) (Image, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.ix.Images[key]
	if !ok || !s.complete(rec) || (digest != "" && rec.Digest != digest) {
		return Image{}, false
	}
	rec.LastUsed = s.now()
	if err := s.ix.save(s.indexFile()); err != nil {
		s.log.Warn("image: save last-used time", "ref", key, "err", err)
	}
	return s.image(rec), true
}

func (s *Store) remoteOptions(ctx context.Context, kc authn.Keychain) []remote.Option {
	if kc == nil {
		kc = s.cfg.Keychain
	} else {
		kc = authn.NewMultiKeychain(kc, s.cfg.Keychain)
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(Transport(s.cfg.Transport, s.cfg.InsecureRegistries)),
		remote.WithPlatform(*s.cfg.Platform),
	}
}

// fetch finds r's manifest: at the mirrors of its registry in order, then
// at the registry itself.
func (s *Store) fetch(ctx context.Context, r name.Reference, kc authn.Keychain) (v1.Image, error) {
	sources, err := s.cfg.Registries.sources(r, s.cfg.InsecureRegistries)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, src := range sources {
		img, err := remote.Image(src, s.remoteOptions(ctx, kc)...)
		if err == nil {
			if src != r {
				s.log.Debug("image: pulled through a mirror", "ref", r.Name(), "from", src.Name())
			}
			return img, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if len(sources) > 1 {
			err = fmt.Errorf("%s: %w", src.Context().RegistryStr(), err)
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (s *Store) pull(ctx context.Context, r name.Reference, kc authn.Keychain, report ProgressFunc) (Image, error) {
	key := r.Name()
	img, err := s.fetch(ctx, r, kc)
	if err != nil {
		return Image{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return Image{}, err
	}
	// Always: nothing to fetch when the registry still has what we have.
	if have, ok := s.touch(key, digest.String()); ok {
		return have, nil
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return Image{}, err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return Image{}, err
	}
	cfgRaw, err := img.RawConfigFile()
	if err != nil {
		return Image{}, err
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return Image{}, fmt.Errorf("config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return Image{}, err
	}
	if len(cf.RootFS.DiffIDs) != len(layers) {
		return Image{}, fmt.Errorf("manifest has %d layers, config %d diff IDs", len(layers), len(cf.RootFS.DiffIDs))
	}
	if err := s.writeSmallBlob(digest.String(), manifest); err != nil {
		return Image{}, err
	}
	if err := s.writeSmallBlob(cfgName.String(), cfgRaw); err != nil {
		return Image{}, err
	}

	digests := make([]string, len(layers))
	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return Image{}, err
		}
		digests[i] = d.String()
	}
	s.pin(digests, 1)
	defer s.pin(digests, -1)
	if err := s.fetchLayers(ctx, key, layers, digests, cf.RootFS.DiffIDs, report); err != nil {
		return Image{}, err
	}

	now := s.now()
	rec := &imageRecord{
		Ref: key, Digest: digest.String(), ConfigDigest: cfgName.String(),
		ManifestSize: int64(len(manifest)), ConfigSize: int64(len(cfgRaw)),
		Layers: digests, Config: configFrom(cf), Created: now, LastUsed: now,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.ix.Images[key]
	s.ix.Images[key] = rec
	if old != nil && old.Digest != rec.Digest {
		s.sweep([]*imageRecord{old}) // the tag moved: drop what only the old one used
	}
	if err := s.ix.save(s.indexFile()); err != nil {
		return Image{}, err
	}
	s.log.Info("image: pulled", "ref", key, "digest", rec.Digest, "layers", len(digests))
	return s.image(rec), nil
}

func (s *Store) pin(digests []string, delta int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range digests {
		s.pinned[d] += delta
		if s.pinned[d] <= 0 {
			delete(s.pinned, d)
		}
	}
}

// fetchLayers brings every layer in, a few at a time.
func (s *Store) fetchLayers(ctx context.Context, key string, layers []v1.Layer, digests []string, diffIDs []v1.Hash, report ProgressFunc) error {
	sem := make(chan struct{}, s.cfg.ParallelLayers)
	var wg sync.WaitGroup
	errs := make([]error, len(layers))
	for i := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			errs[i] = s.ensureLayer(ctx, key, layers[i], digests[i], diffIDs[i], report)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ensureLayer downloads and unpacks one layer unless it is already here.
// Two images sharing a layer fetch it once.
func (s *Store) ensureLayer(ctx context.Context, key string, l v1.Layer, digest string, diffID v1.Hash, report ProgressFunc) error {
	if rec := s.layer(digest); rec != nil {
		report(Progress{Ref: key, Layer: digest, Done: rec.Size, Total: rec.Size})
		return nil
	}
	_, err := s.layers.do(ctx, digest, report, func(ctx context.Context, report ProgressFunc) (*layerRecord, error) {
		if rec := s.layer(digest); rec != nil {
			return rec, nil
		}
		size, err := l.Size()
		if err != nil {
			return nil, err
		}
		if err := s.fetchBlob(ctx, l, digest, size, Progress{Ref: key, Layer: digest, Total: size}, report); err != nil {
			return nil, err
		}
		return s.unpackLayer(digest, diffID, size)
	})
	return err
}

func (s *Store) layer(digest string) *layerRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ix.Layers[digest]
}

// fetchBlob downloads a layer's compressed blob into the blob dir,
// checking its digest on the way.
func (s *Store) fetchBlob(ctx context.Context, l v1.Layer, digest string, size int64, p Progress, report ProgressFunc) error {
	dst := s.blobPath(digest)
	if ok, _ := verifyFile(dst, digest); ok {
		p.Done = p.Total
		report(p)
		return nil
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("layer %s: %w", digest, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(s.tmpDir(), "blob-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	r := &progressReader{r: rc, p: p, report: report}
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = ctx.Err()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("layer %s: download: %w", digest, err)
	}
	if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != digest || n != size {
		return fmt.Errorf("layer %s: got %d bytes with digest %s, want %d bytes", digest, n, got, size)
	}
	return os.Rename(f.Name(), dst)
}

// unpackLayer unpacks a fetched blob into its layer dir, checks its
// uncompressed digest against the config and records it.
func (s *Store) unpackLayer(digest string, diffID v1.Hash, size int64) (*layerRecord, error) {
	f, err := os.Open(s.blobPath(digest))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tmp, err := os.MkdirTemp(s.tmpDir(), "layer-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	res, err := Unpack(f, tmp)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", digest, err)
	}
	if res.DiffID != diffID {
		return nil, fmt.Errorf("layer %s: uncompressed digest %s, config says %s", digest, res.DiffID, diffID)
	}
	if err := syncDir(tmp); err != nil {
		return nil, fmt.Errorf("layer %s: %w", digest, err)
	}
	rec := &layerRecord{Digest: digest, DiffID: diffID.String(), Size: size, UnpackedSize: res.Size}
	s.mu.Lock()
	defer s.mu.Unlock()
	dst := s.layerDir(digest)
	if err := os.RemoveAll(dst); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, err
	}
	s.ix.Layers[digest] = rec
	if err := s.ix.save(s.indexFile()); err != nil {
		return nil, err
	}
	return rec, nil
}

func (s *Store) writeSmallBlob(digest string, b []byte) error {
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(b)); got != digest {
		return fmt.Errorf("blob %s: content has digest %s", digest, got)
	}
	dst := s.blobPath(digest)
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(dst, b)
}

// verifyFile reports whether file exists with the given sha256 digest.
func verifyFile(file, digest string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil)) == digest, nil
}
