package runtime

import "time"

// SandboxSpec describes a pod sandbox: the namespaces its containers share
// and the pod cgroup that holds them.
type SandboxSpec struct {
	ID       string
	Hostname string
	// Resources are pod-level limits; PidsLimit defaults to DefaultPodPids.
	Resources Resources
	// SharePID gives the pod one PID namespace whose PID 1 is a pause
	// process, shared by all its containers (shareProcessNamespace).
	SharePID bool
}

// DefaultPodPids is the pids limit of a pod cgroup when none is given.
const DefaultPodPids = 4096

// Sandbox is a created sandbox.
type Sandbox struct {
	ID string
	// NetNS, IPCNS and UTSNS are bind-mounted namespace files; NetNS is
	// where the network plumbing (veth, addresses) goes.
	NetNS, IPCNS, UTSNS string
	// CgroupPath is the pod cgroup, relative to the runtime's cgroup parent.
	CgroupPath string
	// PIDNS is the pinned shared PID namespace, empty unless SharePID.
	PIDNS string
}

// ContainerSpec is everything needed to create a container.
type ContainerSpec struct {
	ID string
	// Name and Attempt say which of its sandbox's containers this is and
	// which run of it (0 first, one more per restart), as CRI's container
	// metadata does. ContainerID makes the ID of a sandbox's container
	// from them; State returns them, so no caller parses an ID.
	Name    string
	Attempt int
	// Labels are the caller's, kept with the container and returned in
	// its State (e.g. the pod it runs for).
	Labels map[string]string
	// SandboxID names the sandbox whose net, IPC and UTS namespaces (and
	// PID namespace, if it shares one) the container joins. Empty means private namespaces of its own.
	SandboxID string
	// Layers are read-only, already unpacked image layers, top first.
	Layers []string
	// Command is the executable followed by its arguments (entrypoint and
	// args already merged by the caller). A bare name is looked up in PATH.
	Command    []string
	Env        []string // KEY=value
	WorkingDir string
	// Hostname is used only without a sandbox (a sandbox sets its own).
	Hostname string
	Mounts   []Mount
	// HostsFile, HostnameFile and ResolvConfFile are host files bind-mounted
	// over /etc/hosts, /etc/hostname and /etc/resolv.conf when set.
	HostsFile, HostnameFile, ResolvConfFile string
	Resources                               Resources
	Security                                SecurityContext
	// LogPath is the CRI-format log; <state dir>/container.log if empty.
	LogPath string
	// LogMaxBytes rotates the log when it grows past it (default 10 MiB),
	// keeping LogMaxFiles old files (default 3).
	LogMaxBytes int64
	LogMaxFiles int
	// Stdin gives the container a stdin pipe its supervisor holds open
	// (reads block instead of seeing EOF) and feeds from attached
	// clients; StdinOnce ends it when the first client that sent stdin
	// detaches. TTY gives it a terminal as stdin, stdout and stderr (its
	// output is logged as stdout). Either one makes the supervisor
	// listen for Attach.
	Stdin, StdinOnce, TTY bool
}

// Mount is a bind mount from the host into the container.
type Mount struct {
	Source, Destination string
	// SubPath, when set, mounts this path below Source instead of Source
	// itself (a volume's subPath). It is resolved when the container
	// starts and may not leave Source or go through a symlink: the
	// workload can write there and replace it with one. Missing
	// directories are created.
	SubPath  string
	ReadOnly bool // recursively: mounts below Source are read-only too
}

// Resources are cgroup limits. Zero values mean "unlimited"/"default".
type Resources struct {
	CPUShares   uint64 // from the cpu request: 1024 per CPU
	CPUQuotaUs  int64  // from the cpu limit, per CPUPeriodUs
	CPUPeriodUs uint64 // default 100000
	MemoryLimit int64  // bytes
	PidsLimit   int64
}

// SecurityContext loosens or tightens the default lockdown.
type SecurityContext struct {
	// RunAsUser and RunAsGroup are numeric ids; nil means root (0).
	RunAsUser, RunAsGroup *uint32
	SupplementalGroups    []uint32
	ReadOnlyRootFS        bool
	// CapAdd and CapDrop change Docker's default set; names with or
	// without the CAP_ prefix, "ALL" allowed.
	CapAdd, CapDrop []string
	// Privileged keeps every capability, no seccomp filter, no masked
	// paths, a writable /sys and the host's devices.
	Privileged bool
	// AllowPrivilegeEscalation leaves no_new_privs off, so setuid and
	// file capabilities work; by default it is set.
	AllowPrivilegeEscalation bool
	// SeccompUnconfined loads no seccomp filter (the RuntimeDefault one
	// otherwise).
	SeccompUnconfined bool
}

// Status is a container's coarse state.
type Status string

// Container statuses.
const (
	StatusCreated Status = "created"
	StatusRunning Status = "running"
	StatusExited  Status = "exited"
	// StatusUnknown means the supervisor vanished without recording an exit.
	StatusUnknown Status = "unknown"
)

// State is what the runtime knows about one container.
type State struct {
	ID        string
	SandboxID string
	// Name, Attempt and Labels are the spec's.
	Name       string
	Attempt    int
	Labels     map[string]string
	Status     Status
	Pid        int // host pid of the container's first process, while running
	ExitCode   int
	Signal     int // the signal that killed it, or 0
	OOMKilled  bool
	Error      string // why it failed to start, if it did
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	LogPath    string
}

// Stats is a container's resource usage.
type Stats struct {
	CPUUsageNs       uint64
	MemoryUsage      uint64
	MemoryWorkingSet uint64
	Pids             uint64
	OOMKills         uint64
}
