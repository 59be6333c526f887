package client

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"google.golang.org/grpc"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/pki"
)

// Config is what the command line needs to reach a cluster, kept in
// ~/.skiff/config (like a kubeconfig). `skiff server` writes it on start.
type Config struct {
	// Server is the API address, host:port.
	Server string `json:"server"`
	// CA, Cert and Key are PEM file paths for TLS; empty means plain text.
	CA   string `json:"ca,omitempty"`
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
	// Token is a bearer credential, when the server uses them.
	Token string `json:"token,omitempty"`
	// Namespace is where commands work without -n (default: "default");
	// `skiff config set-context --current --namespace` sets it.
	Namespace string `json:"namespace,omitempty"`
}

// Environment is where the command line looks for its cluster when no
// flag says: $SKIFF_SERVER, $SKIFF_CONFIG and the home directory (for
// ~/.skiff/config). Commands read it once, from OSEnvironment; tests fill
// their own, so a user's ~/.skiff or exported variables never reach them.
type Environment struct {
	Server string // $SKIFF_SERVER
	Config string // $SKIFF_CONFIG
	Home   string // the user's home directory
}

// OSEnvironment is the process's environment.
func OSEnvironment() Environment {
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return Environment{Server: os.Getenv("SKIFF_SERVER"), Config: os.Getenv("SKIFF_CONFIG"), Home: home}
}

// ConfigPath is the config file to use: flag, else $SKIFF_CONFIG, else
// ~/.skiff/config.
func (e Environment) ConfigPath(flag string) string {
	switch {
	case flag != "":
		return flag
	case e.Config != "":
		return e.Config
	}
	return filepath.Join(e.Home, ".skiff", "config")
}

// LoadConfig reads a config file; a missing file is os.ErrNotExist.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if c.Server == "" {
		return nil, fmt.Errorf("config %s: no server address", path)
	}
	return &c, nil
}

// SaveConfig writes a config file readable only by its owner.
func SaveConfig(path string, c *Config) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return os.Rename(tmp, path)
}

// SaveServerConfig writes a server's config for the command line at
// path, keeping the namespace a user chose in the config there.
func SaveServerConfig(path string, c *Config) error {
	if old, err := LoadConfig(path); err == nil && c.Namespace == "" {
		c.Namespace = old.Namespace
	}
	return SaveConfig(path, c)
}

// ResolveServer picks the server address the way the command line does:
// the flag, else $SKIFF_SERVER, else the config file at configPath.
func (e Environment) ResolveServer(flag, configPath string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if e.Server != "" {
		return e.Server, nil
	}
	c, err := LoadConfig(configPath)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no server given: pass --server HOST:PORT, set SKIFF_SERVER, or start one with `sudo skiff up` (it writes %s)", configPath)
	}
	if err != nil {
		return "", err
	}
	return c.Server, nil
}

// Options are the connection options the config describes: TLS pinned to
// its CA with its client certificate, or plain text when it names no CA.
// Relative paths are relative to the config file's directory.
func (c *Config) Options(configPath string) (Options, error) {
	if c.CA == "" {
		return Options{}, nil
	}
	ca, holder, err := c.credentials(configPath)
	if err != nil {
		return Options{}, err
	}
	opts := Options{TLS: pki.ClientTLS(ca, holder, "")}
	if c.Token != "" {
		opts.DialOptions = append(opts.DialOptions, grpc.WithPerRPCCredentials(pki.BearerCredentials{Token: c.Token}))
	}
	return opts, nil
}

// credentials reads the config's CA and client certificate (nil when it
// names none).
func (c *Config) credentials(configPath string) (*x509.Certificate, *pki.CertHolder, error) {
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(filepath.Dir(configPath), p)
	}
	ca, err := pki.ReadCertFile(rel(c.CA))
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: ca: %w", configPath, err)
	}
	if c.Cert == "" {
		return ca, nil, nil
	}
	kp, err := pki.ReadKeyPair(rel(c.Cert), rel(c.Key))
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: client certificate: %w", configPath, err)
	}
	return ca, pki.NewCertHolder(kp), nil
}

// OptionsFor loads the config at path and returns its connection options;
// no config file means plain text.
func OptionsFor(path string) (Options, error) {
	c, err := LoadConfig(path)
	if errors.Is(err, os.ErrNotExist) {
		return Options{}, nil
	}
	if err != nil {
		return Options{}, err
	}
	return c.Options(path)
}

// RegistryTransport is the HTTP transport for the cluster's registry: it
// accepts the cluster CA only for the control plane's certificate (the
// registry serves with the API server's) and presents the config's client
// certificate to it, which the registry authorizes (admins push, nodes
// pull). Public registries get the system's roots and no certificate. nil
// when the config names no CA (a plain-text cluster).
func RegistryTransport(path string) (http.RoundTripper, error) {
	c, err := LoadConfig(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.CA == "" {
		return nil, nil
	}
	ca, holder, err := c.credentials(path)
	if err != nil {
		return nil, err
	}
	return pki.RegistryTransport(ca, holder), nil
}
