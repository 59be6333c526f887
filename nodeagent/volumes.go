package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// volumeMounts resolves a container's volume mounts to host directories.
func (a *Agent) volumeMounts(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container) ([]runtime.Mount, error) {
	byName := map[string]*skiffv1.PodVolume{}
	for _, v := range pod.Spec.Volumes {
		byName[v.Name] = v
	}
	var out []runtime.Mount
	for _, m := range c.VolumeMounts {
		v, ok := byName[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume mount %q: no such volume in the pod", m.Name)
		}
		src, err := a.volumeSource(ctx, pod, v)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		readOnly := m.ReadOnly || v.GetVolume().GetReadOnly()
		if isConfigVolume(v) {
			// The agent's files, read-only to the container. A subPath
			// goes through the ..data link to the current version, which
			// then stays as it is (as in Kubernetes, no updates there).
			readOnly = true
			if m.SubPath != "" {
				if src, err = currentVersionDir(src); err != nil {
					return nil, fmt.Errorf("volume %q: %w", v.Name, err)
				}
			}
		}
		// The runtime resolves the subPath as the container starts, never
		// through a symlink: the workload may have planted one.
		out = append(out, runtime.Mount{
			Source: src, SubPath: m.SubPath, Destination: m.MountPath,
			ReadOnly: readOnly,
		})
	}
	return out, nil
}

// currentVersionDir is the directory the ..data link of a ConfigMap or
// Secret volume points at now.
func currentVersionDir(dir string) (string, error) {
	target, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(target)), nil
}

func (a *Agent) volumeSource(ctx context.Context, pod *skiffv1.Pod, v *skiffv1.PodVolume) (string, error) {
	switch {
	case v.EmptyDir != nil:
		dir := filepath.Join(a.cfg.podDataDir(pod.Metadata.Uid), "volumes", v.Name)
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return "", err
		}
		if v.EmptyDir.Medium == "Memory" {
			if err := mountTmpfs(dir, v.EmptyDir.SizeLimit); err != nil {
				return "", err
			}
		}
		return dir, groupOwnDir(dir, pod)
	case v.HostPath != nil:
		return v.HostPath.Path, prepareHostPath(v.HostPath)
	case isConfigVolume(v):
		return a.configVolumeDir(ctx, pod, v)
	case v.Volume != nil:
		vol, err := a.cfg.Client.Volumes().Get(ctx, pod.Metadata.Namespace, v.Volume.Name)
		if err != nil {
			return "", fmt.Errorf("volume object %s/%s: %w", pod.Metadata.Namespace, v.Volume.Name, err)
		}
		return a.persistentVolumeDir(ctx, vol)
	}
	return "", fmt.Errorf("no source")
}

// persistentVolumeDir is where a Volume object's data lives on this node.
// Local volumes are directories under the agent's data dir named by the
// Volume's UID, so a new Volume of the same name starts empty.
func (a *Agent) persistentVolumeDir(ctx context.Context, vol *skiffv1.Volume) (string, error) {
	s := vol.GetSpec()
	switch {
	case s.GetLocal() != nil:
		if n := s.Local.NodeName; n != "" && n != a.cfg.NodeName {
			return "", fmt.Errorf("local volume %s lives on node %s, not %s", vol.Metadata.Name, n, a.cfg.NodeName)
		}
		dir := a.localVolumeDir(vol)
		return dir, os.MkdirAll(dir, 0o777)
	case s.GetHostPath() != nil:
		return s.HostPath.Path, prepareHostPath(s.HostPath)
	case s.GetNfs() != nil:
		return "", fmt.Errorf("nfs volumes need NFS support in the kernel, which this node lacks")
	}
	return a.claimedVolumeDir(ctx, vol)
}

// claimedVolumeDir is the directory of the PersistentVolume a claim is
// bound to. Both sides must name each other: a claim naming a volume
// bound elsewhere is not bound.
func (a *Agent) claimedVolumeDir(ctx context.Context, claim *skiffv1.Volume) (string, error) {
	m := claim.GetMetadata()
	name := claim.GetSpec().GetVolumeName()
	if name == "" {
		return "", fmt.Errorf("claim %s/%s is not bound to a PersistentVolume yet", m.GetNamespace(), m.GetName())
	}
	pv, err := a.cfg.Client.PersistentVolumes().Get(ctx, "", name)
	if err != nil {
		return "", fmt.Errorf("PersistentVolume %s of claim %s/%s: %w", name, m.GetNamespace(), m.GetName(), err)
	}
	ref := pv.GetSpec().GetClaimRef()
	if ref.GetUid() != m.GetUid() || ref.GetName() != m.GetName() || ref.GetNamespace() != m.GetNamespace() {
		return "", fmt.Errorf("PersistentVolume %s is not bound to claim %s/%s", name, m.GetNamespace(), m.GetName())
	}
	switch s := pv.GetSpec(); {
	case s.GetHostPath() != nil:
		return s.HostPath.Path, prepareHostPath(s.HostPath)
	case s.GetLocal() != nil:
		// A local volume is a disk or directory the admin prepared: it
		// must be there, as Kubernetes' local volumes.
		st, err := os.Stat(s.Local.Path)
		if err != nil {
			return "", fmt.Errorf("local PersistentVolume %s: %w", name, err)
		}
		if !st.IsDir() {
			return "", fmt.Errorf("local PersistentVolume %s: %s is not a directory", name, s.Local.Path)
		}
		return s.Local.Path, nil
	}
	return "", fmt.Errorf("PersistentVolume %s has no source", name)
}

func (a *Agent) localVolumeDir(vol *skiffv1.Volume) string {
	return filepath.Join(a.cfg.DataDir, "volumes", vol.Metadata.Namespace+"_"+vol.Metadata.Name+"_"+vol.Metadata.Uid)
}

func mountTmpfs(dir, sizeLimit string) error {
	if isMountPoint(dir) {
		return nil // already mounted
	}
	opts := "mode=0777"
	if sizeLimit != "" {
		q, err := quantity.Parse(sizeLimit)
		if err != nil {
			return fmt.Errorf("sizeLimit: %w", err)
		}
		opts += fmt.Sprintf(",size=%d", q.Value())
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// removePodVolumes unmounts and deletes a pod's emptyDir volumes.
func (a *Agent) removePodVolumes(uid string) error {
	root := filepath.Join(a.cfg.podDataDir(uid), "volumes")
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
	}
	return os.RemoveAll(a.cfg.podDataDir(uid))
}

// gcLocalVolumes removes the data of local volumes whose Volume object is
// gone (or was replaced: the directory names the UID). A node may read only
// the volumes it uses, so it asks about each directory it holds.
func (a *Agent) gcLocalVolumes(ctx context.Context, _ time.Time) {
	root := filepath.Join(a.cfg.DataDir, "volumes")
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		parts := strings.Split(e.Name(), "_")
		if len(parts) != 3 {
			continue
		}
		ns, name, uid := parts[0], parts[1], parts[2]
		vol, err := a.cfg.Client.Volumes().Get(ctx, ns, name)
		if err != nil && !client.IsNotFound(err) {
			continue // unknown: keep the data
		}
		if err == nil && vol.GetMetadata().GetUid() == uid {
			continue
		}
		a.log.Info("removing data of deleted volume", "dir", e.Name())
		os.RemoveAll(filepath.Join(root, e.Name()))
	}
}
