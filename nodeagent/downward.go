package nodeagent

import (
	"context"
	"fmt"
	"os"

	"github.com/skiff-sh/skiff/downward"
	"github.com/skiff-sh/skiff/nodeagent/atomicwriter"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// downwardEnv is where the pod runs: its IP (known once its sandbox is
// attached, before its status says so), the node's address and what the
// node can give a container without a limit.
func (a *Agent) downwardEnv(pod *skiffv1.Pod) downward.Env {
	env := downward.Env{PodIP: pod.GetStatus().GetPodIp(), HostIP: a.cfg.AdvertiseAddress}
	if ip, ok := a.podIPs.Load(pod.GetMetadata().GetUid()); ok {
		env.PodIP = ip.(string)
	}
	if _, alloc, err := a.capacity(); err == nil {
		env.Allocatable = alloc
	}
	return env
}

// downwardValue resolves one fieldRef or resourceFieldRef; container is
// the one a resourceFieldRef without containerName means.
func (a *Agent) downwardValue(pod *skiffv1.Pod, container string, f *skiffv1.ObjectFieldSelector, r *skiffv1.ResourceFieldSelector) (string, error) {
	env := a.downwardEnv(pod)
	if f != nil {
		return downward.FieldValue(pod, f.FieldPath, env)
	}
	if r.ContainerName != "" {
		container = r.ContainerName
	}
	return downward.ResourceValue(pod, container, r.Resource, r.Divisor, env)
}

// downwardPayload is the files a downwardAPI source holds now.
func (a *Agent) downwardPayload(pod *skiffv1.Pod, items []*skiffv1.DownwardAPIVolumeFile, def *int32, out map[string]atomicwriter.File) error {
	for _, it := range items {
		v, err := a.downwardValue(pod, "", it.FieldRef, it.ResourceFieldRef)
		if err != nil {
			return fmt.Errorf("downwardAPI %s: %w", it.Path, err)
		}
		m := mode(def)
		if it.Mode != nil {
			m = mode(it.Mode)
		}
		out[it.Path] = atomicwriter.File{Data: []byte(v), Mode: m}
	}
	return nil
}

// volumePayload is a configMap, secret, projected or downwardAPI volume's
// files, owned by the pod's fsGroup (readable by it) when it has one, as
// the kubelet makes them.
func (a *Agent) volumePayload(ctx context.Context, f *configFetcher, pod *skiffv1.Pod, v *skiffv1.PodVolume) (map[string]atomicwriter.File, error) {
	payload, err := a.configPayload(ctx, f, pod, v)
	if err != nil {
		return nil, err
	}
	if sc := pod.GetSpec().GetSecurityContext(); sc != nil && sc.FsGroup != nil {
		for p, file := range payload {
			file.GID = uint32(*sc.FsGroup)
			file.Mode |= 0o440
			payload[p] = file
		}
	}
	return payload, nil
}

// groupOwnDir gives an emptyDir to the pod's fsGroup, with the set-group-ID
// bit so what the containers make there stays in the group.
func groupOwnDir(dir string, pod *skiffv1.Pod) error {
	sc := pod.GetSpec().GetSecurityContext()
	if sc == nil || sc.FsGroup == nil {
		return nil
	}
	g := sc.FsGroup
	if err := os.Chown(dir, -1, int(*g)); err != nil {
		return fmt.Errorf("fsGroup: %w", err)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSetgid); err != nil {
		return fmt.Errorf("fsGroup: %w", err)
	}
	return nil
}
