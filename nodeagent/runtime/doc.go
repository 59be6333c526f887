// Package runtime runs containers from scratch on golang.org/x/sys: pod
// sandboxes (network, IPC and UTS namespaces held by bind mounts), and
// containers in their own mount and PID namespaces over an overlayfs root,
// locked down by default (Docker's capability set, no_new_privs, a seccomp
// deny-list, masked and read-only /proc paths).
//
// Each container has a supervisor: a re-exec of the calling binary (see
// RunReexecEntry) that is the container's parent, writes its output to a
// CRI-format log and records its exit status on disk. Supervisors outlive
// the Runtime that started them, so a new Runtime over the same state
// directory lists and controls the containers again.
//
// The package knows nothing about skiff's API: plain specs in, plain state
// out. Cgroup files are handled by the cgroups subpackage.
package runtime
