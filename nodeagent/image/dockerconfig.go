package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// dockerHub is how go-containerregistry names Docker Hub's registry;
// docker configs also write it as docker.io, registry-1.docker.io or
// https://index.docker.io/v1/.
const dockerHub = "index.docker.io"

// Credentials are registry credentials from docker configs (the content
// of pods' imagePullSecrets), as the kubelet's keyring reads them. It is
// an authn.Keychain.
type Credentials struct {
	entries []credential
}

type credential struct {
	host string // may hold globs per dot-separated part: *.example.com
	path string // a repository prefix ("" matches all)
	cfg  authn.AuthConfig
}

type dockerEntry struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// AddDockerConfig adds the entries of a docker config: the
// `{"auths": {KEY: {...}}}` of .dockerconfigjson, or with legacy the bare
// `{KEY: {...}}` of .dockercfg. Entries added earlier win over later ones
// of the same specificity, as the order of imagePullSecrets does.
func (c *Credentials) AddDockerConfig(data []byte, legacy bool) error {
	var auths map[string]dockerEntry
	if legacy {
		if err := json.Unmarshal(data, &auths); err != nil {
			return fmt.Errorf("docker config: %w", err)
		}
	} else {
		var cfg struct {
			Auths map[string]dockerEntry `json:"auths"`
		}
		if err := json.Unmarshal(data, &cfg); err != nil {
			return fmt.Errorf("docker config: %w", err)
		}
		auths = cfg.Auths
	}
	for key, e := range auths {
		host, repo := splitRegistryKey(key)
		if host == "" {
			continue
		}
		cfg := authn.AuthConfig{Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken}
		if cfg.Username == "" && e.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return fmt.Errorf("docker config: auths.%s.auth: not base64: %w", key, err)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return fmt.Errorf("docker config: auths.%s.auth: not user:password", key)
			}
			cfg.Username, cfg.Password = user, pass
		}
		c.entries = append(c.entries, credential{host: host, path: repo, cfg: cfg})
	}
	return nil
}

// splitRegistryKey reads a docker config key: a host[:port] with an
// optional scheme and repository path.
func splitRegistryKey(key string) (host, repo string) {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, repo, _ = strings.Cut(key, "/")
	repo = strings.Trim(repo, "/")
	switch host {
	case "docker.io", "registry-1.docker.io", dockerHub:
		host = dockerHub
		if repo == "v1" || repo == "v2" {
			repo = ""
		}
	}
	return strings.ToLower(host), repo
}

// Resolve implements authn.Keychain: the most specific entry (longest
// repository prefix) matching the resource's registry and repository;
// anonymous when none does.
func (c *Credentials) Resolve(res authn.Resource) (authn.Authenticator, error) {
	if c == nil {
		return authn.Anonymous, nil
	}
	host := strings.ToLower(res.RegistryStr())
	repo := strings.TrimPrefix(strings.TrimPrefix(res.String(), res.RegistryStr()), "/")
	best := -1
	for i, e := range c.entries {
		if !hostMatches(e.host, host) || !pathPrefix(e.path, repo) {
			continue
		}
		if best < 0 || len(e.path) > len(c.entries[best].path) {
			best = i
		}
	}
	if best < 0 {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(c.entries[best].cfg), nil
}

// hostMatches compares host[:port] with a pattern whose dot-separated
// parts may be globs, as the kubelet matches *.example.com; ports match
// exactly.
func hostMatches(pattern, host string) bool {
	pHost, pPort, _ := strings.Cut(pattern, ":")
	hHost, hPort, _ := strings.Cut(host, ":")
	if pPort != hPort {
		return false
	}
	pParts, hParts := strings.Split(pHost, "."), strings.Split(hHost, ".")
	if len(pParts) != len(hParts) {
		return false
	}
	for i := range pParts {
		if ok, err := path.Match(pParts[i], hParts[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

func pathPrefix(prefix, repo string) bool {
	return prefix == "" || repo == prefix || strings.HasPrefix(repo, prefix+"/")
}
