package build

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/skiff-sh/skiff/nodeagent/image"
)

// Remote says how to reach registries.
type Remote struct {
	Insecure  []string          // hosts reachable over plain HTTP besides loopback
	Keychain  authn.Keychain    // nil: the Docker config's credentials
	Transport http.RoundTripper // nil: http.DefaultTransport
}

func (rm Remote) options(ctx context.Context) []remote.Option {
	kc := rm.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(image.Transport(rm.Transport, rm.Insecure)),
	}
}

// Push uploads img as ref, skipping blobs the registry has. progress, if
// set, gets bytes done and total as the upload goes.
func (rm Remote) Push(ctx context.Context, img v1.Image, ref string, progress func(done, total int64)) (v1.Hash, error) {
	r, err := image.ParseReference(ref, rm.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	opts := rm.options(ctx)
	var done chan struct{}
	var lastTotal int64
	if progress != nil {
		updates := make(chan v1.Update, 16)
		done = make(chan struct{})
		go func() {
			defer close(done)
			for u := range updates {
				if u.Error == nil {
					lastTotal = u.Total
					progress(u.Complete, u.Total)
				}
			}
		}()
		opts = append(opts, remote.WithProgress(updates))
	}
	err = remote.Write(r, img, opts...)
	if done != nil {
		<-done // remote.Write closes the channel
	}
	if err != nil {
		return v1.Hash{}, fmt.Errorf("build: push %s: %w", r.Name(), err)
	}
	if progress != nil && lastTotal > 0 {
		// go-containerregistry drops the bytes of a read that also hits
		// EOF from its count; the push is complete, so say so.
		progress(lastTotal, lastTotal)
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("build: push %s: %w", r.Name(), err)
	}
	return d, nil
}

// Pull returns a lazily fetched image for copying elsewhere.
func (rm Remote) Pull(ctx context.Context, ref string) (v1.Image, error) {
	r, err := image.ParseReference(ref, rm.Insecure)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r, rm.options(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("build: pull %s: %w", r.Name(), err)
	}
	return img, nil
}

// Listed is one tag in a registry.
type Listed struct {
	Repo   string
	Tag    string
	Digest string
	Size   int64 // config and layers, compressed
}

// List lists every tag of every repository in the registry at host.
func (rm Remote) List(ctx context.Context, host string) ([]Listed, error) {
	reg, err := registryName(host, rm.Insecure)
	if err != nil {
		return nil, err
	}
	opts := rm.options(ctx)
	repos, err := remote.Catalog(ctx, reg, opts...)
	if err != nil {
		return nil, fmt.Errorf("build: list %s: %w", host, err)
	}
	sort.Strings(repos)
	var out []Listed
	for _, repo := range repos {
		rr := reg.Repo(repo)
		tags, err := remote.List(rr, opts...)
		if err != nil {
			return nil, fmt.Errorf("build: list %s: %w", rr, err)
		}
		sort.Strings(tags)
		for _, t := range tags {
			l := Listed{Repo: repo, Tag: t}
			desc, err := remote.Get(rr.Tag(t), opts...)
			if err != nil {
				return nil, fmt.Errorf("build: list %s:%s: %w", rr, t, err)
			}
			l.Digest = desc.Digest.String()
			if m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest)); err == nil && desc.MediaType.IsImage() {
				l.Size = m.Config.Size
				for _, layer := range m.Layers {
					l.Size += layer.Size
				}
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// Delete removes ref (a tag or a digest) from its registry.
func (rm Remote) Delete(ctx context.Context, ref string) error {
	r, err := image.ParseReference(ref, rm.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Delete(r, rm.options(ctx)...); err != nil {
		return fmt.Errorf("build: delete %s: %w", r.Name(), err)
	}
	return nil
}

func registryName(host string, insecure []string) (name.Registry, error) {
	// Parse through a reference so loopback and insecure hosts get the
	// same treatment as in image references.
	r, err := image.ParseReference(host+"/x", insecure)
	if err != nil {
		return name.Registry{}, err
	}
	return r.Context().Registry, nil
}
