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

// v1Controllers are the hierarchies skiff uses on a v1 (or hybrid) host.
func v1Controllers() []string {
	return []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices"}
}

type v1 struct {
	root   string // e.g. /sys/fs/cgroup
	parent string // e.g. skiff
	path   string // e.g. pod-x/ctr-y
}

func newV1(cfg Config, path string) *v1 {
	return &v1{root: cfg.Root, parent: cfg.Parent, path: path}
}

// mounted reports whether the hierarchy of controller c exists.
func (m *v1) mounted(c string) bool {
	_, err := os.Stat(filepath.Join(m.root, c))
	return err == nil
}

func (m *v1) Path(c string) string { return filepath.Join(m.root, c, m.parent, m.path) }

func (m *v1) Create(r Resources) error {
	for _, c := range v1Controllers() {
		if c == "cpuset" || !m.mounted(c) {
			continue
		}
		if err := os.MkdirAll(m.Path(c), 0o755); err != nil {
			return fmt.Errorf("cgroups: create %s: %w", c, err)
		}
	}
	if m.mounted("cpuset") {
		if err := m.createCpuset(); err != nil {
			return err
		}
	}
	return m.Set(r)
}

// createCpuset makes the cpuset cgroup level by level. A new v1 cpuset
// cgroup starts with empty cpus and mems and refuses tasks until both are
// set; each level skiff makes gets cgroup.clone_children, so the kernel
// copies them into the levels below as they are made. Writing cpuset.cpus
// instead costs the kernel a check of the whole cpuset tree (it showed in
// profiles of pod bursts). So the levels are made first and only the
// last one is read: a cpuset's cpus are a subset of its parent's, so a
// last level with cpus and mems has them all the way up. Otherwise (a
// level made before, or by someone else, without clone_children) every
// level is read and an empty one filled in from its parent.
func (m *v1) createCpuset() error {
	root := filepath.Join(m.root, "cpuset")
	parts := strings.Split(filepath.Join(m.parent, m.path), string(filepath.Separator))
	dir := root
	for i, p := range parts {
		dir = filepath.Join(dir, p)
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cgroups: create cpuset: %w", err)
		}
		if i < len(parts)-1 {
			if err := writeFile(dir, "cgroup.clone_children", "1"); err != nil {
				return err
			}
		}
	}
	if cpusAndMems(dir) {
		return nil
	}
	dir = root
	for _, p := range parts {
		parent := dir
		dir = filepath.Join(dir, p)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, err := readFile(dir, f)
			if err == nil && cur != "" {
				continue
			}
			v, err := readFile(parent, f)
			if err != nil {
				return err
			}
			if err := writeFile(dir, f, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// cpusAndMems reports whether a cpuset cgroup has both cpus and mems.
func cpusAndMems(dir string) bool {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		if v, err := readFile(dir, f); err != nil || v == "" {
			return false
		}
	}
	return true
}

func (m *v1) Set(r Resources) error {
	need := func(c string) error {
		if !m.mounted(c) {
			return fmt.Errorf("cgroups: controller %s is not mounted under %s", c, m.root)
		}
		return nil
	}
	if r.CPUShares > 0 {
		if err := need("cpu"); err != nil {
			return err
		}
		if err := writeFile(m.Path("cpu"), "cpu.shares", strconv.FormatUint(r.CPUShares, 10)); err != nil {
			return err
		}
	}
	if r.CPUQuotaUs > 0 {
		if err := need("cpu"); err != nil {
			return err
		}
		period := r.CPUPeriodUs
		if period == 0 {
			period = 100000
		}
		// The period goes first: the kernel checks quota against it.
		if err := writeFile(m.Path("cpu"), "cpu.cfs_period_us", strconv.FormatUint(period, 10)); err != nil {
			return err
		}
		if err := writeFile(m.Path("cpu"), "cpu.cfs_quota_us", strconv.FormatInt(r.CPUQuotaUs, 10)); err != nil {
			return err
		}
	}
	if r.MemoryLimit > 0 {
		if err := need("memory"); err != nil {
			return err
		}
		if err := writeFile(m.Path("memory"), "memory.limit_in_bytes", strconv.FormatInt(r.MemoryLimit, 10)); err != nil {
			return err
		}
	}
	if r.PidsLimit > 0 {
		if err := need("pids"); err != nil {
			return err
		}
		if err := writeFile(m.Path("pids"), "pids.max", strconv.FormatInt(r.PidsLimit, 10)); err != nil {
			return err
		}
	}
	if r.RestrictDevices {
		if err := need("devices"); err != nil {
			return err
		}
		if err := writeFile(m.Path("devices"), "devices.deny", "a"); err != nil {
			return err
		}
		for _, rule := range defaultDeviceRules() {
			if err := writeFile(m.Path("devices"), "devices.allow", rule.v1()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *v1) RestrictsDevices() bool { return m.mounted("devices") }

func (m *v1) Apply(pid int) error {
	for _, c := range v1Controllers() {
		if !m.mounted(c) {
			continue
		}
		if err := writeFile(m.Path(c), "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

func (m *v1) JoinFiles() ([]*os.File, error) {
	var files []*os.File
	for _, c := range v1Controllers() {
		if !m.mounted(c) {
			continue
		}
		f, err := os.OpenFile(filepath.Join(m.Path(c), "tasks"), os.O_WRONLY, 0)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, fmt.Errorf("cgroups: %w", err)
		}
		files = append(files, f)
	}
	return files, nil
}

// procsController is the hierarchy whose cgroup.procs lists the tasks.
func (m *v1) procsController() string {
	for _, c := range []string{"freezer", "pids", "memory", "cpu"} {
		if m.mounted(c) {
			return c
		}
	}
	return "cpu"
}

func (m *v1) Pids() ([]int, error) { return readPids(m.Path(m.procsController())) }

func (m *v1) Freeze() error { return m.setFreezer("FROZEN") }
func (m *v1) Thaw() error   { return m.setFreezer("THAWED") }

func (m *v1) setFreezer(state string) error {
	if !m.mounted("freezer") {
		return errors.New("cgroups: freezer is not mounted")
	}
	dir := m.Path("freezer")
	if err := writeFile(dir, "freezer.state", state); err != nil {
		return err
	}
	// FREEZING is transitional: wait until every task has stopped.
	return waitFor(5*time.Second, func() (bool, error) {
		s, err := readFile(dir, "freezer.state")
		return s == state, err
	})
}

func (m *v1) Kill() error {
	pids, err := m.Pids()
	if err != nil {
		return err
	}
	killPids(pids)
	return nil
}

func (m *v1) OOMKills() (uint64, error) {
	return readKey(m.Path("memory"), "memory.oom_control", "oom_kill")
}

func (m *v1) Stats() (Stats, error) {
	var s Stats
	var err error
	if s.CPUUsageNs, err = readUint(m.Path("cpuacct"), "cpuacct.usage"); err != nil {
		return s, err
	}
	mem := m.Path("memory")
	if s.MemoryUsage, err = readUint(mem, "memory.usage_in_bytes"); err != nil {
		return s, err
	}
	inactive, err := readKey(mem, "memory.stat", "total_inactive_file")
	if err != nil {
		return s, err
	}
	if inactive < s.MemoryUsage {
		s.MemoryWorkingSet = s.MemoryUsage - inactive
	}
	if s.Pids, err = readUint(m.Path("pids"), "pids.current"); err != nil {
		return s, err
	}
	s.OOMKills, err = m.OOMKills()
	return s, err
}

func (m *v1) Destroy() error {
	if m.mounted("freezer") {
		// A frozen task ignores SIGKILL until thawed.
		if _, err := os.Stat(m.Path("freezer")); err == nil {
			if err := m.Thaw(); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if err := m.Kill(); err != nil {
		return err
	}
	var errs []error
	for _, c := range v1Controllers() {
		if !m.mounted(c) {
			continue
		}
		if err := removeTree(m.Path(c)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
