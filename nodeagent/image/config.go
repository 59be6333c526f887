package image

import (
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ImageConfig is what a container runtime needs from an image's config.
type ImageConfig struct {
	Entrypoint   []string `json:"entrypoint,omitempty"`
	Cmd          []string `json:"cmd,omitempty"`
	Env          []string `json:"env,omitempty"` // KEY=VALUE
	WorkingDir   string   `json:"workingDir,omitempty"`
	User         string   `json:"user,omitempty"`
	ExposedPorts []string `json:"exposedPorts,omitempty"` // "8080/tcp", sorted
	OS           string   `json:"os,omitempty"`
	Architecture string   `json:"architecture,omitempty"`
}

// configFrom copies the fields skiff uses out of an OCI image config.
func configFrom(cf *v1.ConfigFile) ImageConfig {
	c := ImageConfig{OS: cf.OS, Architecture: cf.Architecture}
	c.Entrypoint = slices.Clone(cf.Config.Entrypoint)
	c.Cmd = slices.Clone(cf.Config.Cmd)
	c.Env = slices.Clone(cf.Config.Env)
	c.WorkingDir = cf.Config.WorkingDir
	c.User = cf.Config.User
	for p := range cf.Config.ExposedPorts {
		c.ExposedPorts = append(c.ExposedPorts, p)
	}
	sort.Strings(c.ExposedPorts)
	return c
}

// Overrides are the parts of a pod's container spec that replace or extend
// the image config.
type Overrides struct {
	Command    []string // replaces the image's entrypoint (and drops its cmd)
	Args       []string // replaces the image's cmd
	Env        []EnvVar // merged over the image's env; later wins
	WorkingDir string
	User       string
}

// EnvVar is one environment variable of a container spec.
type EnvVar struct {
	Name  string
	Value string
}

// Process is the resolved command line and environment of a container.
type Process struct {
	Argv       []string
	Env        []string // KEY=VALUE, image order first, then new pod vars
	WorkingDir string   // "/" when neither image nor spec says
	User       string
}

// Apply resolves the process to run the way Kubernetes does: command
// overrides the entrypoint, args override cmd (command alone drops the
// image's cmd), env is merged with the spec winning, and $(VAR) in command
// and args expands from the merged env ($$ escapes).
func (c ImageConfig) Apply(o Overrides) Process {
	env := mergeEnv(c.Env, o.Env)
	// Only the spec's strings expand, as in Kubernetes.
	vars := envMap(env)
	var argv []string
	switch {
	case len(o.Command) > 0:
		argv = append(expandAll(o.Command, vars), expandAll(o.Args, vars)...)
	case len(o.Args) > 0:
		argv = append(slices.Clone(c.Entrypoint), expandAll(o.Args, vars)...)
	default:
		argv = append(slices.Clone(c.Entrypoint), c.Cmd...)
	}
	p := Process{Argv: argv, Env: env, WorkingDir: c.WorkingDir, User: c.User}
	if o.WorkingDir != "" {
		p.WorkingDir = o.WorkingDir
	}
	if p.WorkingDir == "" {
		p.WorkingDir = "/"
	}
	if o.User != "" {
		p.User = o.User
	}
	return p
}

// mergeEnv keeps the image's order, replaces values the spec sets and
// appends the spec's new names in its order.
func mergeEnv(image []string, spec []EnvVar) []string {
	out := slices.Clone(image)
	pos := make(map[string]int, len(out))
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		pos[k] = i
	}
	for _, e := range spec {
		kv := e.Name + "=" + e.Value
		if i, ok := pos[e.Name]; ok {
			out[i] = kv
			continue
		}
		pos[e.Name] = len(out)
		out = append(out, kv)
	}
	return out
}

func expandAll(in []string, vars map[string]string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, vars)
	}
	return out
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// Expand applies Kubernetes' $(VAR) rules to s, as for command and args.
func Expand(s string, vars map[string]string) string { return expand(s, vars) }

// expand replaces $(NAME) with its value when NAME is set, leaves unknown
// references as written, and turns $$ into $ (Kubernetes' rules).
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
