package cgroups

import "os"

// DefaultParent is the cgroup under each controller root that holds every
// cgroup skiff creates.
const DefaultParent = "skiff"

// DefaultRoot is where cgroup file systems are mounted.
const DefaultRoot = "/sys/fs/cgroup"

// Resources are the limits of one cgroup. Zero means "not set".
type Resources struct {
	// CPUShares is the v1 cpu.shares value (1024 = one CPU's worth of
	// weight); v2 converts it to cpu.weight.
	CPUShares uint64
	// CPUQuotaUs and CPUPeriodUs form the CFS bandwidth limit; a quota of
	// zero leaves CPU time unlimited.
	CPUQuotaUs  int64
	CPUPeriodUs uint64
	// MemoryLimit is in bytes.
	MemoryLimit int64
	// PidsLimit caps the number of tasks.
	PidsLimit int64
	// RestrictDevices allows only the device nodes a container needs
	// (null, zero, full, random, urandom, tty, ptmx, pts) and mknod.
	RestrictDevices bool
}

// Stats is a point-in-time reading of a cgroup's usage.
type Stats struct {
	CPUUsageNs       uint64
	MemoryUsage      uint64
	MemoryWorkingSet uint64 // usage minus inactive file cache, as kubelet counts it
	Pids             uint64
	OOMKills         uint64
}

// Manager owns one cgroup (at the same relative path in every hierarchy it
// uses). Methods are safe to call again after a partial failure.
type Manager interface {
	// Create makes the cgroup (and missing parents) and applies r.
	Create(r Resources) error
	// Set changes the limits of an existing cgroup.
	Set(r Resources) error
	// Apply moves process pid into the cgroup.
	Apply(pid int) error
	// JoinFiles opens the files through which a single-threaded process
	// moves itself into the cgroup, by writing "0" to each: v1's tasks
	// files. The kernel spares a thread moving itself the lock Apply takes
	// on every thread group, whose taking waits for an RCU grace period
	// (up to ~20 ms on a VM) unless another move has just taken it. v2
	// offers no such way: nil there, and Apply it is.
	JoinFiles() ([]*os.File, error)
	// Pids lists the processes in the cgroup.
	Pids() ([]int, error)
	// Freeze stops every task in the cgroup; Thaw resumes them.
	Freeze() error
	Thaw() error
	// Kill sends SIGKILL to every process in the cgroup.
	Kill() error
	// OOMKills returns how many processes the OOM killer killed here.
	OOMKills() (uint64, error)
	Stats() (Stats, error)
	// Destroy thaws, kills what is left and removes the cgroup. A missing
	// cgroup is not an error.
	Destroy() error
	// RestrictsDevices reports whether RestrictDevices is enforced here
	// (v1 devices controller); v2 would need an eBPF program skiff lacks.
	RestrictsDevices() bool
	// Path is the directory of the cgroup for one controller (v1) or the
	// unified directory (v2, controller ignored).
	Path(controller string) string
}

// Config says where the hierarchies are and under which parent skiff works.
type Config struct {
	// Root is the cgroup mount root; DefaultRoot if empty.
	Root string
	// Parent is the cgroup below each controller root that holds skiff's
	// cgroups; DefaultParent if empty.
	Parent string
}

func (c Config) withDefaults() Config {
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	if c.Parent == "" {
		c.Parent = DefaultParent
	}
	return c
}

// SharesToWeight converts v1 cpu.shares (2..262144) to v2 cpu.weight
// (1..10000), the same mapping runc and the kubelet use.
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}
