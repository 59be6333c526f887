package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
)

// Mode is the cgroup interface a Manager speaks.
type Mode int

const (
	// ModeAuto detects the mode from the mounted file systems.
	ModeAuto Mode = iota
	// ModeV1 uses one hierarchy per controller (legacy and hybrid hosts).
	ModeV1
	// ModeV2 uses the unified hierarchy.
	ModeV2
)

func (m Mode) String() string {
	switch m {
	case ModeV1:
		return "v1"
	case ModeV2:
		return "v2"
	}
	return "auto"
}

// Detect reports which interface carries the controllers under root. A
// hybrid host (v1 controllers plus a mostly empty cgroup2 at root/unified)
// is v1: its limits live in the v1 hierarchies.
func Detect(root string) Mode {
	if root == "" {
		root = DefaultRoot
	}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return ModeV2
	}
	return ModeV1
}

// New returns the Manager for the cgroup at path (relative, below the
// configured parent), using mode (ModeAuto detects it).
func New(cfg Config, mode Mode, path string) (Manager, error) {
	cfg = cfg.withDefaults()
	if filepath.IsAbs(path) || path != filepath.Clean(path) || path == ".." || len(path) > 2 && path[:3] == "../" {
		return nil, fmt.Errorf("cgroups: bad relative path %q", path)
	}
	if mode == ModeAuto {
		mode = Detect(cfg.Root)
	}
	switch mode {
	case ModeV1:
		return newV1(cfg, path), nil
	case ModeV2:
		return newV2(cfg, path), nil
	}
	return nil, fmt.Errorf("cgroups: unknown mode %d", mode)
}
