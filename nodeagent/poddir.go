package nodeagent

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// podDirSize caps the tmpfs of a pod's own files: its hosts, hostname and
// resolv.conf, which its containers see read-write as on any Kubernetes
// node, and its termination-log files. A container that writes into one
// of them without end fills this, not the run directory that every pod
// and the node's IPAM state share. The memory is charged to the writer's
// cgroup.
const podDirSize = "1m"

// makePodDir makes the pod's directory under the run directory, a small
// tmpfs of its own, once. A directory that holds files already is left
// as it is: an agent before this one made it, and running containers
// have its files mounted. A failed mount is a warning: the files then
// share the run directory, as before.
func (a *Agent) makePodDir(podUID string) error {
	dir := a.cfg.podDir(podUID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if isMountPoint(dir) {
		return nil
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return err
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size="+podDirSize); err != nil {
		a.log.Warn("could not mount a tmpfs for the pod's files; they share the run directory", "pod_uid", podUID, "err", err)
	}
	return nil
}

// removePodDir detaches the pod directory's tmpfs, if any, and removes
// the directory.
func (a *Agent) removePodDir(podUID string) error {
	dir := a.cfg.podDir(podUID)
	if isMountPoint(dir) {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
	}
	return os.RemoveAll(dir)
}
