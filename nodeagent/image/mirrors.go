package image

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/yaml"
)

// Registries is a node's registry configuration, in the shape of k3s's
// registries.yaml:
//
//	mirrors:
//	  docker.io:
//	    endpoint: ["https://10.0.0.1:5000"]
//	    rewrite: {"^library/(.*)": "$1"}
//
// An image of a mirrored registry is fetched from its endpoints in order,
// its repository rewritten by the first rewrite whose pattern matches,
// then from the registry itself. "*" mirrors every registry without a
// mirror of its own. The image keeps its own name on the node.
type Registries struct {
	Mirrors map[string]Mirror `json:"mirrors"`
}

// Mirror is where a registry's images are looked for first.
type Mirror struct {
	Endpoints []string          `json:"endpoint"`
	Rewrites  map[string]string `json:"rewrite"`
}

// LoadRegistries reads a registries.yaml. Unknown fields are errors, so a
// misspelt key does not quietly turn a mirror off.
func LoadRegistries(path string) (Registries, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Registries{}, fmt.Errorf("registries: %w", err)
	}
	var r Registries
	if err := yaml.UnmarshalStrict(data, &r); err != nil {
		return Registries{}, fmt.Errorf("registries: %s: %w", path, err)
	}
	if err := r.Validate(); err != nil {
		return Registries{}, fmt.Errorf("registries: %s: %w", path, err)
	}
	return r, nil
}

// Validate checks every endpoint is a registry address and every rewrite
// a regular expression.
func (r Registries) Validate() error {
	var errs []error
	for host, m := range r.Mirrors {
		for i, e := range m.Endpoints {
			if _, _, err := endpointHost(e); err != nil {
				errs = append(errs, fmt.Errorf("mirrors.%s.endpoint[%d]: %w", host, i, err))
			}
		}
		for pat := range m.Rewrites {
			if _, err := regexp.Compile(pat); err != nil {
				errs = append(errs, fmt.Errorf("mirrors.%s.rewrite %q: %w", host, pat, err))
			}
		}
	}
	return errors.Join(errs...)
}

// WithMirrors returns r with each of hosts mirrored at endpoint, ahead of
// the mirrors r gives it. Docker Hub's official images ("library/busybox")
// are looked for by their short name ("busybox"), the name `skiff image
// build --name busybox:1.28` gives them in the cluster registry.
func (r Registries) WithMirrors(hosts []string, endpoint string) Registries {
	out := Registries{Mirrors: map[string]Mirror{}}
	for h, m := range r.Mirrors {
		out.Mirrors[h] = m
	}
	for _, h := range hosts {
		m := out.Mirrors[h]
		m.Endpoints = append([]string{endpoint}, m.Endpoints...)
		if h == "docker.io" && len(m.Rewrites) == 0 {
			m.Rewrites = map[string]string{"^library/(.*)": "$1"}
		}
		out.Mirrors[h] = m
	}
	return out
}

// PlainHTTPHosts are the endpoint hosts written with http://: the
// configuration asks for plain HTTP to them.
func (r Registries) PlainHTTPHosts() []string {
	var out []string
	for _, m := range r.Mirrors {
		for _, e := range m.Endpoints {
			if host, plain, err := endpointHost(e); err == nil && plain {
				out = append(out, host)
			}
		}
	}
	sort.Strings(out)
	return out
}

// endpointHost is the host:port of an endpoint ("https://h:5000",
// "http://h:5000" or "h:5000"), and whether it asks for plain HTTP.
func endpointHost(e string) (string, bool, error) {
	plain := strings.HasPrefix(e, "http://")
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", false, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false, fmt.Errorf("%q: want http:// or https://", e)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/" && u.Path != "/v2" && u.Path != "/v2/") {
		return "", false, fmt.Errorf("%q: want a registry's address, like https://10.0.0.1:5000", e)
	}
	return u.Host, plain, nil
}

// mirrorKey is how a registries.yaml names the registry of ref: Docker
// Hub is docker.io there, index.docker.io in references.
func mirrorKey(ref name.Reference) string {
	host := ref.Context().RegistryStr()
	if host == name.DefaultRegistry {
		return "docker.io"
	}
	return host
}

// sources are the references to try for ref, in order: ref at each
// mirror endpoint, then ref itself.
func (r Registries) sources(ref name.Reference, insecure []string) ([]name.Reference, error) {
	m, ok := r.Mirrors[mirrorKey(ref)]
	if !ok {
		m, ok = r.Mirrors["*"]
	}
	if !ok {
		return []name.Reference{ref}, nil
	}
	repo := rewrite(ref.Context().RepositoryStr(), m.Rewrites)
	suffix := ":" + ref.Identifier()
	if _, digest := ref.(name.Digest); digest {
		suffix = "@" + ref.Identifier()
	}
	var out []name.Reference
	for _, e := range m.Endpoints {
		host, _, err := endpointHost(e)
		if err != nil {
			return nil, err
		}
		mr, err := ParseReference(host+"/"+repo+suffix, insecure)
		if err != nil {
			return nil, err
		}
		out = append(out, mr)
	}
	return append(out, ref), nil
}

// rewrite applies the first rewrite (by pattern, sorted, so the choice is
// stable) whose pattern matches repo.
func rewrite(repo string, rewrites map[string]string) string {
	pats := make([]string, 0, len(rewrites))
	for p := range rewrites {
		pats = append(pats, p)
	}
	sort.Strings(pats)
	for _, p := range pats {
		re, err := regexp.Compile(p)
		if err == nil && re.MatchString(repo) {
			return re.ReplaceAllString(repo, rewrites[p])
		}
	}
	return repo
}
