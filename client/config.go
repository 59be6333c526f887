package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
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
}

// DefaultConfigPath is $SKIFF_CONFIG, else ~/.skiff/config.
func DefaultConfigPath() string {
	if p := os.Getenv("SKIFF_CONFIG"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".skiff", "config")
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

// ResolveServer picks the server address the way the command line does:
// the flag, else $SKIFF_SERVER, else the config file.
func ResolveServer(flag, configPath string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if env := os.Getenv("SKIFF_SERVER"); env != "" {
		return env, nil
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
