package build

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultPath is the PATH of built images unless Env sets one.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Options describe an image to build.
type Options struct {
	// Source is a directory, which becomes the image's root, or a single
	// file (a static binary), which becomes /<its name>.
	Source       string
	Entrypoint   []string // default for a single file: ["/<its name>"]
	Cmd          []string
	Env          []string // KEY=VALUE; PATH defaults to DefaultPath
	WorkingDir   string
	User         string
	ExposedPorts []string // "8080/tcp"
}

// Build makes a single-layer image from a directory or a binary. The same
// input gives the same digest.
func Build(o Options) (v1.Image, error) {
	fi, err := os.Stat(o.Source)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	var entries []entry
	switch {
	case fi.IsDir():
		entries, err = treeEntries(o.Source)
		if err != nil {
			return nil, err
		}
	case fi.Mode().IsRegular():
		name := filepath.Base(o.Source)
		entries = []entry{{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: fi.Size()}, src: o.Source}}
		if len(o.Entrypoint) == 0 {
			o.Entrypoint = []string{"/" + name}
		}
	default:
		return nil, fmt.Errorf("build: %s is neither a directory nor a regular file", o.Source)
	}
	return imageFrom(entries, o)
}

// imageFrom wraps entries into an OCI image with the given config.
func imageFrom(entries []entry, o Options) (v1.Image, error) {
	layer, err := layerFrom(entries)
	if err != nil {
		return nil, err
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: epoch()}
	cf.Config.Entrypoint = o.Entrypoint
	cf.Config.Cmd = o.Cmd
	cf.Config.Env = withPath(o.Env)
	cf.Config.WorkingDir = o.WorkingDir
	cf.Config.User = o.User
	if len(o.ExposedPorts) > 0 {
		cf.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range o.ExposedPorts {
			cf.Config.ExposedPorts[p] = struct{}{}
		}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	return img, nil
}

func withPath(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env
		}
	}
	return append([]string{DefaultPath}, env...)
}
