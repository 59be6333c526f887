package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Files in a container's state directory (under StateDir, on the node's
// disk: what a container was and how it ended outlive a reboot, as its
// writable layer and log do).
const (
	configFile     = "config.json" // containerConfig, written by Create
	exitFile       = "exit.json"   // exitRecord, written by the supervisor when the container ends
	defaultLogName = "container.log"
	upperDir       = "upper"
	workDir        = "work"
	rootfsDir      = "rootfs"
)

// Files in a container's live directory (under RunDir, a tmpfs on a real
// node): the running supervisor's, rewritten or made anew at every start,
// and meaningless once it is gone. A container created before they moved
// there keeps them in its state directory (containerConfig.RunDir empty).
const (
	stateFile     = "state.json"     // stateRecord, written by the supervisor
	startFifo     = "start.fifo"     // Start writes a request here, and makes its reply fifo beside it
	supervisorLog = "supervisor.log" // the supervisor's own stderr
)

// containerConfig is what the supervisor, the init and exec read: the spec
// plus everything the runtime derived from it.
type containerConfig struct {
	Spec ContainerSpec
	Dir  string // the state directory
	// RunDir is the live directory (empty: Dir, as a container made by a
	// Runtime before live directories kept it).
	RunDir        string `json:",omitempty"`
	NetNS, IPCNS  string
	UTSNS         string
	PIDNS         string // the sandbox's shared PID namespace, if any
	CgroupRoot    string
	CgroupParent  string
	CgroupMode    int
	CgroupPath    string
	LogPath       string
	DevicesLocked bool // the devices cgroup enforces the allow-list
	// Seccomp is the filter the init loads (nil: none), built by the
	// runtime that created the container.
	Seccomp   *seccompFilter `json:",omitempty"`
	CreatedAt time.Time
	// EnvFile holds Spec.Env, which config.json leaves out (envfile.go).
	EnvFile string
}

// stateRecord is the supervisor's view of a live container.
type stateRecord struct {
	Status          Status
	SupervisorPid   int
	SupervisorStart uint64 // start time in clock ticks, to detect pid reuse
	Pid             int
	PidStart        uint64
	StartedAt       time.Time
}

// exitRecord is written once, when the container has ended.
type exitRecord struct {
	ExitCode   int
	Signal     int
	OOMKilled  bool
	Error      string
	FinishedAt time.Time
	// StartedAt repeats the state record's, which is gone after a reboot.
	StartedAt time.Time
}

// checkID keeps ids usable as file and cgroup names:
// [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}.
func checkID(id string) error {
	ok := len(id) > 0 && len(id) <= 128 && id[0] != '.' && id[0] != '-' && id[0] != '_'
	for _, c := range id {
		if !ok {
			break
		}
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
	}
	if !ok {
		return fmt.Errorf("runtime: invalid id %q", id)
	}
	return nil
}

// writeJSON writes v atomically: readers see the old or the new file.
func writeJSON(dir, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("runtime: encode %s: %w", name, err)
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("runtime: write %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("runtime: write %s: %w", name, err)
	}
	return nil
}

func readJSON(dir, name string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("runtime: read %s: %w", name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("runtime: decode %s: %w", name, err)
	}
	return nil
}
