package nodeagent

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/skiff-sh/skiff/nodeagent/image"
	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// containerSpec turns a pod's container into the runtime's plain spec.
func (a *Agent) containerSpec(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container, img image.Image, attempt int) (runtime.ContainerSpec, error) {
	env, err := a.configEnv(ctx, pod, c)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	proc := img.Config.Apply(image.Overrides{Command: c.Command, Args: c.Args, Env: env, WorkingDir: c.WorkingDir})
	if len(proc.Argv) == 0 {
		return runtime.ContainerSpec{}, fmt.Errorf("container %s: no command: the image %s has no entrypoint or cmd and the pod gives none", c.Name, c.Image)
	}
	mounts, err := a.volumeMounts(ctx, pod, c)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	if mounts, err = a.withTerminationLog(pod, c, attempt, mounts); err != nil {
		return runtime.ContainerSpec{}, fmt.Errorf("container %s: termination message file: %w", c.Name, err)
	}
	sec, err := securityContext(pod, c, proc.User)
	if err != nil {
		return runtime.ContainerSpec{}, fmt.Errorf("container %s: %w", c.Name, err)
	}
	dir := a.cfg.podDir(pod.Metadata.Uid)
	return runtime.ContainerSpec{
		ID:             runtime.ContainerID(pod.Metadata.Uid, c.Name, attempt),
		Name:           c.Name,
		Attempt:        attempt,
		Labels:         podLabels(pod),
		SandboxID:      pod.Metadata.Uid,
		Layers:         img.LayerDirs,
		Command:        proc.Argv,
		Env:            withDefaultPath(proc.Env),
		WorkingDir:     proc.WorkingDir,
		Mounts:         mounts,
		HostsFile:      filepath.Join(dir, "hosts"),
		HostnameFile:   filepath.Join(dir, "hostname"),
		ResolvConfFile: filepath.Join(dir, "resolv.conf"),
		Resources:      resources(c.Resources),
		Security:       sec,
		Stdin:          c.Stdin,
		StdinOnce:      c.StdinOnce,
		TTY:            c.Tty,
	}, nil
}

func withDefaultPath(env []string) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			return env
		}
	}
	return append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

// resources maps requests and limits to cgroup settings the way the
// kubelet does: the cpu request sets shares (1024 per core), the cpu limit
// a CFS quota per 100ms, the memory limit the memory cgroup's limit.
func resources(r *skiffv1.ResourceRequirements) runtime.Resources {
	var out runtime.Resources
	if v, ok := r.GetRequests()["cpu"]; ok {
		if q, err := quantity.Parse(v); err == nil {
			out.CPUShares = uint64(max(2, q.MilliValue()*1024/1000))
		}
	}
	if v, ok := r.GetLimits()["cpu"]; ok {
		if q, err := quantity.Parse(v); err == nil && q.MilliValue() > 0 {
			out.CPUPeriodUs = 100000
			out.CPUQuotaUs = max(1000, q.MilliValue()*100)
			if out.CPUShares == 0 {
				out.CPUShares = uint64(max(2, q.MilliValue()*1024/1000))
			}
		}
	}
	if v, ok := r.GetLimits()["memory"]; ok {
		if q, err := quantity.Parse(v); err == nil {
			out.MemoryLimit = q.Value()
		}
	}
	return out
}

// securityContext merges the pod's and the container's settings (the
// container wins) over the image's user.
func securityContext(pod *skiffv1.Pod, c *skiffv1.Container, imageUser string) (runtime.SecurityContext, error) {
	var s runtime.SecurityContext
	uid, gid, err := parseUser(imageUser)
	if err != nil {
		return s, err
	}
	s.RunAsUser, s.RunAsGroup = uid, gid
	var nonRoot bool
	seccomp := ""
	if p := pod.GetSpec().GetSecurityContext(); p != nil {
		if p.RunAsUser != nil {
			s.RunAsUser = u32(*p.RunAsUser)
		}
		if p.RunAsGroup != nil {
			s.RunAsGroup = u32(*p.RunAsGroup)
		}
		nonRoot = p.GetRunAsNonRoot()
		seccomp = p.GetSeccompProfile().GetType()
		// fsGroup owns the pod's volumes; every container is in it.
		if p.FsGroup != nil {
			s.SupplementalGroups = append(s.SupplementalGroups, uint32(*p.FsGroup))
		}
		for _, g := range p.SupplementalGroups {
			s.SupplementalGroups = append(s.SupplementalGroups, uint32(g))
		}
	}
	if sc := c.GetSecurityContext(); sc != nil {
		if sc.RunAsUser != nil {
			s.RunAsUser = u32(*sc.RunAsUser)
		}
		if sc.RunAsGroup != nil {
			s.RunAsGroup = u32(*sc.RunAsGroup)
		}
		s.Privileged = sc.Privileged
		s.ReadOnlyRootFS = sc.ReadOnlyRootFilesystem
		s.CapAdd = sc.GetCapabilities().GetAdd()
		s.CapDrop = sc.GetCapabilities().GetDrop()
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		if t := sc.GetSeccompProfile().GetType(); t != "" {
			seccomp = t
		}
		s.AllowPrivilegeEscalation = sc.GetAllowPrivilegeEscalation()
	}
	switch seccomp {
	case "", "RuntimeDefault":
	case "Unconfined":
		s.SeccompUnconfined = true
	default:
		return s, fmt.Errorf("seccompProfile %q is not supported; use RuntimeDefault or Unconfined", seccomp)
	}
	// As the kubelet does: an unknown user is root.
	if nonRoot && (s.RunAsUser == nil || *s.RunAsUser == 0) {
		return s, fmt.Errorf("container has runAsNonRoot and image will run as root; set securityContext.runAsUser to a non-zero uid or use an image whose USER is not 0")
	}
	return s, nil
}

// parseUser reads an image's numeric "uid[:gid]"; names would need the
// image's /etc/passwd, which skiff does not read.
func parseUser(user string) (uid, gid *uint32, err error) {
	if user == "" {
		return nil, nil, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	n, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("image user %q is not numeric; set securityContext.runAsUser", user)
	}
	uid = u32(int64(n))
	if hasGroup {
		m, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, nil, fmt.Errorf("image group %q is not numeric; set securityContext.runAsGroup", g)
		}
		gid = u32(int64(m))
	}
	return uid, gid, nil
}

func u32(v int64) *uint32 {
	x := uint32(v)
	return &x
}
