package build

import (
	"bytes"
	"fmt"
	"io"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ociImage picks the image an OCI layout's index.json points at.
func ociImage(file string, toc tarTOC) (v1.Image, error) {
	raw, err := toc.read(file, "index.json")
	if err != nil {
		return nil, err
	}
	want := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	for depth := 0; depth < 4; depth++ {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		desc, err := pick(idx.Manifests, want)
		if err != nil {
			return nil, err
		}
		body, err := toc.read(file, blobName(desc.Digest))
		if err != nil {
			return nil, err
		}
		if h, _, _ := v1.SHA256(bytes.NewReader(body)); h != desc.Digest {
			return nil, fmt.Errorf("manifest %s: content has digest %s", desc.Digest, h)
		}
		if desc.MediaType.IsIndex() {
			raw = body
			continue
		}
		core := &ociCore{file: file, toc: toc, manifest: body, mediaType: desc.MediaType}
		if core.mediaType == "" {
			core.mediaType = types.OCIManifestSchema1
		}
		return partial.CompressedToImage(core)
	}
	return nil, fmt.Errorf("indexes nested too deep")
}

// pick prefers an image for the platform, then the first image.
func pick(ds []v1.Descriptor, want v1.Platform) (v1.Descriptor, error) {
	var first *v1.Descriptor
	for i, d := range ds {
		if !d.MediaType.IsImage() && !d.MediaType.IsIndex() {
			continue
		}
		if d.Platform != nil && d.Platform.Satisfies(want) {
			return d, nil
		}
		if first == nil && (d.Platform == nil || d.MediaType.IsIndex()) {
			first = &ds[i]
		}
	}
	if first == nil {
		return v1.Descriptor{}, fmt.Errorf("no image for %s/%s in index", want.OS, want.Architecture)
	}
	return *first, nil
}

func blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// ociCore is an image whose blobs are files inside the tarball.
type ociCore struct {
	file      string
	toc       tarTOC
	manifest  []byte
	mediaType types.MediaType
}

func (c *ociCore) RawManifest() ([]byte, error)        { return c.manifest, nil }
func (c *ociCore) MediaType() (types.MediaType, error) { return c.mediaType, nil }
func (c *ociCore) RawConfigFile() ([]byte, error)      { return c.configBytes() }
func (c *ociCore) parsed() (*v1.Manifest, error) {
	return v1.ParseManifest(bytes.NewReader(c.manifest))
}
func (c *ociCore) blob(h v1.Hash) (io.ReadCloser, error) { return c.toc.open(c.file, blobName(h)) }
func (c *ociCore) blobSize(h v1.Hash) (int64, bool)      { e, ok := c.toc[blobName(h)]; return e.size, ok }

func (c *ociCore) configBytes() ([]byte, error) {
	m, err := c.parsed()
	if err != nil {
		return nil, err
	}
	return c.toc.read(c.file, blobName(m.Config.Digest))
}

func (c *ociCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	m, err := c.parsed()
	if err != nil {
		return nil, err
	}
	for _, l := range m.Layers {
		if l.Digest == h {
			if size, ok := c.blobSize(h); !ok || size != l.Size {
				return nil, fmt.Errorf("layer %s missing or of the wrong size in the tarball", h)
			}
			return &ociLayer{core: c, desc: l}, nil
		}
	}
	if m.Config.Digest == h {
		return &ociLayer{core: c, desc: m.Config}, nil
	}
	return nil, fmt.Errorf("blob %s not in manifest", h)
}

type ociLayer struct {
	core *ociCore
	desc v1.Descriptor
}

func (l *ociLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *ociLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *ociLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *ociLayer) Compressed() (io.ReadCloser, error)  { return l.core.blob(l.desc.Digest) }
