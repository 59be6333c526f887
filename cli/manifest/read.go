package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Sources names where manifests come from, as kubectl's -f and -R do.
type Sources struct {
	// Paths: files, directories (each .yaml, .yml and .json file in it,
	// sorted by name), http(s) URLs, or "-" for Stdin.
	Paths []string
	// Recursive also reads the directories' subdirectories.
	Recursive bool
	Stdin     io.Reader
	// Client fetches URLs; nil: one with a 30 s timeout.
	Client *http.Client
}

// maxFetched bounds a manifest read from a URL.
const maxFetched = 32 << 20

// Read decodes the manifests of src, in order. Everything is read and
// decoded before anything is returned, and any error returns no objects.
func Read(ctx context.Context, src Sources) ([]Object, error) {
	if len(src.Paths) == 0 {
		return nil, fmt.Errorf("no manifest given: pass -f FILE, -f DIR, -f URL or -f - (stdin)")
	}
	var files []string
	for _, p := range src.Paths {
		if p == "-" || isURL(p) {
			files = append(files, p)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, unwrapPathError(err))
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		found, err := manifestsIn(p, src.Recursive)
		if err != nil {
			return nil, err
		}
		files = append(files, found...)
	}
	var out []Object
	for _, f := range files {
		var data []byte
		var err error
		name := f
		switch {
		case f == "-":
			name = "stdin"
			data, err = io.ReadAll(src.Stdin)
		case isURL(f):
			data, err = fetch(ctx, src.Client, f)
		default:
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, unwrapPathError(err))
		}
		objs, err := Decode(name, data)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

func isURL(p string) bool {
	return strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://")
}

// fetch reads a manifest from url: a 2xx answer of at most maxFetched.
func fetch(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("GET answered %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxFetched+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFetched {
		return nil, fmt.Errorf("more than %d MiB: not a manifest", maxFetched>>20)
	}
	return data, nil
}

// manifestsIn is the manifest files in dir, sorted by path, and in its
// subdirectories too when recursive.
func manifestsIn(dir string, recursive bool) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		ext := strings.ToLower(filepath.Ext(d.Name()))
		if ext == ".yaml" || ext == ".yml" || ext == ".json" {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, unwrapPathError(err))
	}
	sort.Strings(out)
	if len(out) == 0 {
		if recursive {
			return nil, fmt.Errorf("%s: no .yaml, .yml or .json files in this directory or below", dir)
		}
		return nil, fmt.Errorf("%s: no .yaml, .yml or .json files in this directory (-R reads its subdirectories too)", dir)
	}
	return out, nil
}

// unwrapPathError drops the "open NAME:" the path is already named by.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
