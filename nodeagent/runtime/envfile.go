package runtime

import (
	"fmt"
	"os"
	"path/filepath"
)

// A container's environment holds the values of Secrets it reads: it is
// kept apart from config.json (under StateDir, on the node's disk) in a
// file of its own under RunDir, which is a tmpfs (/run) on a real node, so
// secret bytes never reach persistent storage. Exec's one-shot configs go
// there too.

func (c Config) envDir() string { return filepath.Join(c.RunDir, "env") }

// writeConfig writes c's config.json without its environment, and the
// environment to its file under RunDir (mode 0600).
func (r *Runtime) writeConfig(c *containerConfig) error {
	dir := r.cfg.envDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("runtime: create env dir: %w", err)
	}
	c.EnvFile = filepath.Join(dir, c.Spec.ID+".json")
	if err := writeJSON(dir, filepath.Base(c.EnvFile), c.Spec.Env); err != nil {
		return err
	}
	env := c.Spec.Env
	c.Spec.Env = nil
	err := writeJSON(c.Dir, configFile, c)
	c.Spec.Env = env
	return err
}

// readConfig reads a container's config.json and merges its environment
// back in.
func readConfig(dir string) (containerConfig, error) {
	var c containerConfig
	if err := readJSON(dir, configFile, &c); err != nil {
		return c, err
	}
	if c.EnvFile == "" {
		return c, nil // written before env files existed
	}
	if err := readJSON(filepath.Dir(c.EnvFile), filepath.Base(c.EnvFile), &c.Spec.Env); err != nil {
		return c, fmt.Errorf("runtime: the container's environment is gone (node rebooted?): %w", err)
	}
	return c, nil
}

// removeEnv deletes a container's environment file.
func removeEnv(c *containerConfig) error {
	if c.EnvFile == "" {
		return nil
	}
	if err := os.Remove(c.EnvFile); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("runtime: remove env: %w", err)
	}
	return nil
}
