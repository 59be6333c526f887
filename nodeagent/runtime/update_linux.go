package runtime

import (
	"errors"
	"fmt"
	"io/fs"
)

// UpdateResources changes a container's cgroup limits in place.
func (r *Runtime) UpdateResources(id string, res Resources) error {
	var c containerConfig
	if err := readJSON(r.containerDir(id), configFile, &c); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("runtime: container %s: %w", id, ErrNotFound)
		}
		return err
	}
	cg, err := r.cgroup(c.CgroupPath)
	if err != nil {
		return err
	}
	return cg.Set(toCgroupResources(res))
}

// SandboxStats reads the pod cgroup: the usage of all its containers.
func (r *Runtime) SandboxStats(id string) (Stats, error) {
	if _, err := r.sandbox(id); err != nil {
		return Stats{}, err
	}
	cg, err := r.cgroup(podCgroupPath(id))
	if err != nil {
		return Stats{}, err
	}
	s, err := cg.Stats()
	if err != nil {
		return Stats{}, err
	}
	return Stats(s), nil
}
