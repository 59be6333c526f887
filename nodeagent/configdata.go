package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/nodeagent/atomicwriter"
	"github.com/skiff-sh/skiff/nodeagent/image"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// configRefreshInterval is how often a running pod's ConfigMap and Secret
// volumes are compared with their objects.
const configRefreshInterval = 2 * time.Second

var envVarName = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// errConfigMissing marks a ConfigMap, Secret or key that is not there.
var errConfigMissing = errors.New("missing")

// configFetcher reads the ConfigMaps and Secrets of one pod, each once.
// The agent asks for each by name: the API server lets a node read only
// those its own pods use, and it never lists or watches them.
type configFetcher struct {
	c         *client.Client
	namespace string
	cache     map[string]map[string][]byte
}

func (a *Agent) configFetcher(pod *skiffv1.Pod) *configFetcher {
	return &configFetcher{c: a.cfg.Client, namespace: pod.Metadata.Namespace, cache: map[string]map[string][]byte{}}
}

// data returns the keys of a ConfigMap (data and binaryData) or Secret.
func (f *configFetcher) data(ctx context.Context, kind skiffv1.Kind, name string) (map[string][]byte, error) {
	ck := kind.String() + "/" + name
	if d, ok := f.cache[ck]; ok {
		return d, nil
	}
	out := map[string][]byte{}
	var err error
	what := "configmap"
	if kind == skiffv1.Kind_KIND_SECRET {
		what = "secret"
		var s *skiffv1.Secret
		if s, err = f.c.Secrets().Get(ctx, f.namespace, name); err == nil {
			for k, v := range s.Data {
				out[k] = v
			}
		}
	} else {
		var cm *skiffv1.ConfigMap
		if cm, err = f.c.ConfigMaps().Get(ctx, f.namespace, name); err == nil {
			for k, v := range cm.Data {
				out[k] = []byte(v)
			}
			for k, v := range cm.BinaryData {
				out[k] = v
			}
		}
	}
	switch {
	case client.IsNotFound(err):
		return nil, fmt.Errorf("%s %q not found: %w", what, name, errConfigMissing)
	case err != nil:
		return nil, fmt.Errorf("read %s %q: %w", what, name, err)
	}
	f.cache[ck] = out
	return out, nil
}

// key returns one key; ok is false when it or its object is missing and
// optional says that is fine.
func (f *configFetcher) key(ctx context.Context, kind skiffv1.Kind, sel *skiffv1.KeySelector) (value []byte, ok bool, err error) {
	d, err := f.data(ctx, kind, sel.Name)
	if err == nil {
		if v, has := d[sel.Key]; has {
			return v, true, nil
		}
		err = fmt.Errorf("couldn't find key %s in %s %q: %w", sel.Key, kindWord(kind), sel.Name, errConfigMissing)
	}
	if errors.Is(err, errConfigMissing) && sel.GetOptional() {
		return nil, false, nil
	}
	return nil, false, err
}

func kindWord(k skiffv1.Kind) string {
	if k == skiffv1.Kind_KIND_SECRET {
		return "Secret"
	}
	return "ConfigMap"
}

// configEnv resolves a container's envFrom and env: envFrom first, then
// env, so a variable of env wins, as in Kubernetes. Values are read once,
// when the container starts.
func (a *Agent) configEnv(ctx context.Context, pod *skiffv1.Pod, c *skiffv1.Container) ([]image.EnvVar, error) {
	f := a.configFetcher(pod)
	var env []image.EnvVar
	for _, from := range c.EnvFrom {
		kind, name, optional := skiffv1.Kind_KIND_CONFIG_MAP, from.GetConfigMapRef().GetName(), from.GetConfigMapRef().GetOptional()
		if from.SecretRef != nil {
			kind, name, optional = skiffv1.Kind_KIND_SECRET, from.SecretRef.Name, from.SecretRef.GetOptional()
		}
		d, err := f.data(ctx, kind, name)
		if errors.Is(err, errConfigMissing) && optional {
			continue
		}
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			// Keys that make no variable name are skipped, as Kubernetes
			// does (with an event there).
			if n := from.Prefix + k; envVarName.MatchString(n) {
				env = append(env, image.EnvVar{Name: n, Value: string(d[k])})
			}
		}
	}
	// A value's $(VAR) expands from the variables before it and the
	// services' (see serviceEnv), as in Kubernetes (the image's own are
	// not known there, nor here).
	services, err := a.serviceEnv(ctx, pod)
	if err != nil {
		return nil, err
	}
	defined := maps.Clone(services)
	if defined == nil {
		defined = map[string]string{}
	}
	for _, v := range env {
		defined[v.Name] = v.Value
	}
	for _, e := range c.Env {
		vf := e.GetValueFrom()
		if vf == nil {
			v := image.Expand(e.Value, defined)
			defined[e.Name] = v
			env = append(env, image.EnvVar{Name: e.Name, Value: v})
			continue
		}
		if vf.FieldRef != nil || vf.ResourceFieldRef != nil {
			v, err := a.downwardValue(pod, c.Name, vf.FieldRef, vf.ResourceFieldRef)
			if err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			defined[e.Name] = v
			env = append(env, image.EnvVar{Name: e.Name, Value: v})
			continue
		}
		kind, sel := skiffv1.Kind_KIND_CONFIG_MAP, vf.GetConfigMapKeyRef()
		if vf.SecretKeyRef != nil {
			kind, sel = skiffv1.Kind_KIND_SECRET, vf.SecretKeyRef
		}
		v, ok, err := f.key(ctx, kind, sel)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			defined[e.Name] = string(v)
			env = append(env, image.EnvVar{Name: e.Name, Value: string(v)})
		}
	}
	// The services' variables come last, where the pod set none of the
	// same name.
	return appendServiceEnv(env, services), nil
}

func appendServiceEnv(env []image.EnvVar, services map[string]string) []image.EnvVar {
	set := make(map[string]bool, len(env))
	for _, v := range env {
		set[v.Name] = true
	}
	for _, k := range slices.Sorted(maps.Keys(services)) {
		if !set[k] {
			env = append(env, image.EnvVar{Name: k, Value: services[k]})
		}
	}
	return env
}

// isConfigVolume: a volume filled from ConfigMaps, Secrets or the pod's
// own fields (downwardAPI), written by the agent and kept up to date.
func isConfigVolume(v *skiffv1.PodVolume) bool {
	return v.ConfigMap != nil || v.Secret != nil || v.Projected != nil || v.DownwardApi != nil
}

// holdsSecrets: such a volume lives on tmpfs, never on the node's disk.
func holdsSecrets(v *skiffv1.PodVolume) bool {
	return v.Secret != nil || v.Projected != nil
}

// configVolumeDir fills a configMap, secret or projected volume (on a
// tmpfs when it may hold Secrets) and returns its directory.
func (a *Agent) configVolumeDir(ctx context.Context, pod *skiffv1.Pod, v *skiffv1.PodVolume) (string, error) {
	dir := filepath.Join(a.cfg.podDataDir(pod.Metadata.Uid), "volumes", v.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if holdsSecrets(v) {
		if err := mountTmpfs(dir, ""); err != nil {
			return "", err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return "", err
		}
	}
	payload, err := a.volumePayload(ctx, a.configFetcher(pod), pod, v)
	if err != nil {
		return "", err
	}
	if _, err := atomicwriter.Write(dir, payload); err != nil {
		return "", err
	}
	return dir, nil
}

// configPayload is the files a configMap, secret or projected volume holds
// now.
func (a *Agent) configPayload(ctx context.Context, f *configFetcher, pod *skiffv1.Pod, v *skiffv1.PodVolume) (map[string]atomicwriter.File, error) {
	out := map[string]atomicwriter.File{}
	switch {
	case v.ConfigMap != nil:
		s := v.ConfigMap
		return out, addKeys(ctx, f, out, skiffv1.Kind_KIND_CONFIG_MAP, s.Name, s.Items, s.GetOptional(), mode(s.DefaultMode))
	case v.Secret != nil:
		s := v.Secret
		return out, addKeys(ctx, f, out, skiffv1.Kind_KIND_SECRET, s.SecretName, s.Items, s.GetOptional(), mode(s.DefaultMode))
	case v.DownwardApi != nil:
		return out, a.downwardPayload(pod, v.DownwardApi.Items, v.DownwardApi.DefaultMode, out)
	case v.Projected != nil:
		def := mode(v.Projected.DefaultMode)
		for _, src := range v.Projected.Sources {
			var err error
			if c := src.ConfigMap; c != nil {
				err = addKeys(ctx, f, out, skiffv1.Kind_KIND_CONFIG_MAP, c.Name, c.Items, c.GetOptional(), def)
			} else if s := src.Secret; s != nil {
				err = addKeys(ctx, f, out, skiffv1.Kind_KIND_SECRET, s.Name, s.Items, s.GetOptional(), def)
			} else if d := src.DownwardApi; d != nil {
				err = a.downwardPayload(pod, d.Items, v.Projected.DefaultMode, out)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func mode(m *int32) fs.FileMode {
	if m == nil {
		return 0o644
	}
	return fs.FileMode(*m) & fs.ModePerm
}

// addKeys puts an object's keys into payload: every key under its own
// name, or only the listed items at their paths.
func addKeys(ctx context.Context, f *configFetcher, payload map[string]atomicwriter.File, kind skiffv1.Kind, name string, items []*skiffv1.KeyToPath, optional bool, def fs.FileMode) error {
	d, err := f.data(ctx, kind, name)
	if errors.Is(err, errConfigMissing) && optional {
		return nil
	}
	if err != nil {
		return err
	}
	if len(items) == 0 {
		for k, v := range d {
			payload[k] = atomicwriter.File{Data: v, Mode: def}
		}
		return nil
	}
	for _, it := range items {
		v, ok := d[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf("couldn't find key %s in %s %q: %w", it.Key, kindWord(kind), name, errConfigMissing)
		}
		m := def
		if it.Mode != nil {
			m = mode(it.Mode)
		}
		payload[it.Path] = atomicwriter.File{Data: v, Mode: m}
	}
	return nil
}

// refreshConfigVolumes brings a running pod's ConfigMap and Secret
// volumes up to date with their objects (every configRefreshInterval).
// An object gone or unreadable leaves the files as they were, as the
// kubelet does.
func (a *Agent) refreshConfigVolumes(ctx context.Context, pod *skiffv1.Pod, st *podState) {
	if time.Since(st.configRefreshed) < configRefreshInterval {
		return
	}
	st.configRefreshed = time.Now()
	f := a.configFetcher(pod)
	for _, v := range pod.Spec.Volumes {
		if !isConfigVolume(v) {
			continue
		}
		dir := filepath.Join(a.cfg.podDataDir(pod.Metadata.Uid), "volumes", v.Name)
		if _, err := os.Lstat(filepath.Join(dir, "..data")); err != nil {
			continue // not set up yet: the container start does it
		}
		payload, err := a.volumePayload(ctx, f, pod, v)
		if err != nil {
			a.log.Debug("config volume refresh", "pod", client.KeyOf(pod), "volume", v.Name, "err", err)
			continue
		}
		if changed, err := atomicwriter.Write(dir, payload); err != nil {
			a.log.Warn("config volume refresh", "pod", client.KeyOf(pod), "volume", v.Name, "err", err)
		} else if changed {
			a.log.Info("config volume updated", "pod", client.KeyOf(pod), "volume", v.Name)
		}
	}
}
