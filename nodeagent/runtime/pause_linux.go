package runtime

import (
	"errors"
	"fmt"
	"io/fs"
)

// Pause freezes every process of the container (cgroup freezer).
func (r *Runtime) Pause(id string) error { return r.freeze(id, true) }

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error { return r.freeze(id, false) }

func (r *Runtime) freeze(id string, frozen bool) error {
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
	if frozen {
		return cg.Freeze()
	}
	return cg.Thaw()
}
