package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// v2Controllers are the controllers skiff enables down to its cgroups.
func v2Controllers() []string { return []string{"cpu", "cpuset", "memory", "pids"} }

type v2 struct {
	root string // the cgroup2 mount
	dir  string // root/parent/path
	rel  string // parent/path
}

func newV2(cfg Config, path string) *v2 {
	rel := filepath.Join(cfg.Parent, path)
	return &v2{root: cfg.Root, rel: rel, dir: filepath.Join(cfg.Root, rel)}
}

func (m *v2) Path(string) string { return m.dir }

func (m *v2) Create(r Resources) error {
	// Each level's parent must delegate the controllers down before the
	// child's files appear: write "+ctrl" to every ancestor's subtree_control.
	dir := m.root
	for _, p := range strings.Split(m.rel, string(filepath.Separator)) {
		if err := enableControllers(dir); err != nil {
			return err
		}
		dir = filepath.Join(dir, p)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("cgroups: create %s: %w", dir, err)
		}
	}
	return m.Set(r)
}

// enableControllers delegates the wanted controllers that dir offers.
func enableControllers(dir string) error {
	avail, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	enabled, _ := readFile(dir, "cgroup.subtree_control")
	have := strings.Fields(enabled)
	var add []string
	for _, c := range v2Controllers() {
		if contains(strings.Fields(avail), c) && !contains(have, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	return writeFile(dir, "cgroup.subtree_control", strings.Join(add, " "))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (m *v2) has(controller string) bool {
	avail, err := readFile(m.dir, "cgroup.controllers")
	return err == nil && contains(strings.Fields(avail), controller)
}

func (m *v2) need(controller string) error {
	if !m.has(controller) {
		return fmt.Errorf("cgroups: controller %s is not available in %s", controller, m.dir)
	}
	return nil
}

func (m *v2) Set(r Resources) error {
	if r.CPUShares > 0 {
		if err := m.need("cpu"); err != nil {
			return err
		}
		w := SharesToWeight(r.CPUShares)
		if err := writeFile(m.dir, "cpu.weight", strconv.FormatUint(w, 10)); err != nil {
			return err
		}
	}
	if r.CPUQuotaUs > 0 {
		if err := m.need("cpu"); err != nil {
			return err
		}
		period := r.CPUPeriodUs
		if period == 0 {
			period = 100000
		}
		if err := writeFile(m.dir, "cpu.max", fmt.Sprintf("%d %d", r.CPUQuotaUs, period)); err != nil {
			return err
		}
	}
	if r.MemoryLimit > 0 {
		if err := m.need("memory"); err != nil {
			return err
		}
		if err := writeFile(m.dir, "memory.max", strconv.FormatInt(r.MemoryLimit, 10)); err != nil {
			return err
		}
		// Like runc: no swap beyond the limit, so the limit means what it says.
		if _, err := os.Stat(filepath.Join(m.dir, "memory.swap.max")); err == nil {
			if err := writeFile(m.dir, "memory.swap.max", "0"); err != nil {
				return err
			}
		}
	}
	if r.PidsLimit > 0 {
		if err := m.need("pids"); err != nil {
			return err
		}
		if err := writeFile(m.dir, "pids.max", strconv.FormatInt(r.PidsLimit, 10)); err != nil {
			return err
		}
	}
	if r.RestrictDevices {
		if !m.RestrictsDevices() {
			return fmt.Errorf("cgroups: %s cannot restrict devices: this kernel loads no cgroup device programs", m.dir)
		}
		if err := attachDeviceProgram(m.dir, defaultDeviceRules()); err != nil {
			return err
		}
	}
	return nil
}

// RestrictsDevices: v2 has no devices controller; the allow-list is an
// eBPF program attached to the cgroup (as runc and crun do), which needs a
// kernel with CONFIG_CGROUP_BPF and a real cgroup2 mount.
func (m *v2) RestrictsDevices() bool { return !isFakeDir(m.root) && deviceProgramsWork() }

func (m *v2) Apply(pid int) error {
	return writeFile(m.dir, "cgroup.procs", strconv.Itoa(pid))
}

func (m *v2) JoinFiles() ([]*os.File, error) { return nil, nil }

func (m *v2) Pids() ([]int, error) { return readPids(m.dir) }

func (m *v2) Freeze() error { return m.setFrozen("1") }
func (m *v2) Thaw() error   { return m.setFrozen("0") }

func (m *v2) setFrozen(v string) error {
	if err := writeFile(m.dir, "cgroup.freeze", v); err != nil {
		return err
	}
	return waitFor(5*time.Second, func() (bool, error) {
		n, err := readKey(m.dir, "cgroup.events", "frozen")
		return strconv.FormatUint(n, 10) == v, err
	})
}

func (m *v2) Kill() error {
	// cgroup.kill (5.14+) kills the whole subtree atomically, even tasks
	// forking while we read cgroup.procs.
	if _, err := os.Stat(filepath.Join(m.dir, "cgroup.kill")); err == nil && !isFakeDir(m.dir) {
		return writeFile(m.dir, "cgroup.kill", "1")
	}
	pids, err := m.Pids()
	if err != nil {
		return err
	}
	killPids(pids)
	return nil
}

func (m *v2) OOMKills() (uint64, error) {
	return readKey(m.dir, "memory.events", "oom_kill")
}

func (m *v2) Stats() (Stats, error) {
	var s Stats
	usec, err := readKey(m.dir, "cpu.stat", "usage_usec")
	if err != nil {
		return s, err
	}
	s.CPUUsageNs = usec * 1000
	if m.has("memory") {
		if s.MemoryUsage, err = readUint(m.dir, "memory.current"); err != nil {
			return s, err
		}
		inactive, err := readKey(m.dir, "memory.stat", "inactive_file")
		if err != nil {
			return s, err
		}
		if inactive < s.MemoryUsage {
			s.MemoryWorkingSet = s.MemoryUsage - inactive
		}
		if s.OOMKills, err = m.OOMKills(); err != nil {
			return s, err
		}
	}
	if m.has("pids") {
		if s.Pids, err = readUint(m.dir, "pids.current"); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (m *v2) Destroy() error {
	if _, err := os.Stat(m.dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(m.dir, "cgroup.freeze")); err == nil {
		if err := m.Thaw(); err != nil {
			return err
		}
	}
	if err := m.Kill(); err != nil {
		return err
	}
	return removeTree(m.dir)
}
