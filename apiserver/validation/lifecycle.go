package validation

import (
	"regexp"
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// pathedContainer is a container of a pod spec with its path in errors.
type pathedContainer struct {
	path string
	c    *skiffv1.Container
	init bool
}

// containersWithPaths lists the init containers, then the containers: both
// are checked by the same rules, and their names share one namespace.
func containersWithPaths(path string, s *skiffv1.PodSpec) []pathedContainer {
	out := make([]pathedContainer, 0, len(s.InitContainers)+len(s.Containers))
	for i, c := range s.InitContainers {
		out = append(out, pathedContainer{path: idx(path+".initContainers", i), c: c, init: true})
	}
	for i, c := range s.Containers {
		out = append(out, pathedContainer{path: idx(path+".containers", i), c: c})
	}
	return out
}

// httpHeaderName is an HTTP token (RFC 7230), what Kubernetes accepts.
var httpHeaderName = regexp.MustCompile(`^[-!#$%&'*+.^_|~0-9A-Za-z` + "`" + `]+$`)

// validateLifecycleFields checks what a container has for its life on the
// node: hooks, the startup probe, the termination message. An init
// container runs to completion, so probes and hooks make no sense there
// (Kubernetes refuses them too); a sidecar (an init container with
// restartPolicy Always) keeps running, and may have both.
func validateLifecycleFields(e *errs, p string, c *skiffv1.Container, init bool) {
	if c.RestartPolicy != nil {
		switch {
		case !init:
			e.add(p+".restartPolicy", "may only be set on init containers")
		case *c.RestartPolicy != "Always":
			e.add(p+".restartPolicy", "%q: only \"Always\" is supported (a sidecar container)", *c.RestartPolicy)
		}
	}
	if init && !skiffv1.IsSidecar(c) {
		for _, f := range []struct {
			name string
			set  bool
		}{{"lifecycle", c.Lifecycle != nil}, {"livenessProbe", c.LivenessProbe != nil}, {"readinessProbe", c.ReadinessProbe != nil}, {"startupProbe", c.StartupProbe != nil}} {
			if f.set {
				e.add(p+"."+f.name, "must not be set for init containers: they run to completion")
			}
		}
	}
	validateProbe(e, p+".startupProbe", c.StartupProbe)
	if sp := c.StartupProbe; sp != nil && sp.SuccessThreshold != 1 {
		e.add(p+".startupProbe.successThreshold", "must be 1")
	}
	if lp := c.LivenessProbe; lp != nil && lp.SuccessThreshold != 1 {
		e.add(p+".livenessProbe.successThreshold", "must be 1")
	}
	if rp := c.ReadinessProbe; rp != nil && rp.TerminationGracePeriodSeconds != nil {
		e.add(p+".readinessProbe.terminationGracePeriodSeconds", "must not be set for readiness probes: they never stop the container")
	}
	if l := c.Lifecycle; l != nil {
		validateHandler(e, p+".lifecycle.postStart", l.PostStart)
		validateHandler(e, p+".lifecycle.preStop", l.PreStop)
	}
	if tp := c.TerminationMessagePath; tp != "" {
		if !strings.HasPrefix(tp, "/") || strings.Contains(tp, "..") {
			e.add(p+".terminationMessagePath", "%q must be an absolute path without '..'", tp)
		}
	}
	if c.TerminationMessagePolicy != "" {
		checkOneOf(e, p+".terminationMessagePolicy", c.TerminationMessagePolicy, "File", "FallbackToLogsOnError")
	}
}

func validateHandler(e *errs, path string, h *skiffv1.LifecycleHandler) {
	if h == nil {
		return
	}
	n := 0
	if h.Exec != nil {
		n++
		if len(h.Exec.Command) == 0 {
			e.add(path+".exec.command", "required")
		}
	}
	if h.HttpGet != nil {
		n++
		validateHTTPGet(e, path+".httpGet", h.HttpGet)
	}
	if h.Sleep != nil {
		n++
		if h.Sleep.Seconds < 0 {
			e.add(path+".sleep.seconds", "must not be negative")
		}
	}
	if n != 1 {
		e.add(path, "exactly one of exec, httpGet or sleep must be set")
	}
}

func validateHTTPGet(e *errs, path string, h *skiffv1.HTTPGetAction) {
	checkPort(e, path+".port", h.Port, true)
	if h.Scheme != "" {
		checkOneOf(e, path+".scheme", h.Scheme, "HTTP", "HTTPS")
	}
	for i, hd := range h.HttpHeaders {
		if !httpHeaderName.MatchString(hd.Name) {
			e.add(idx(path+".httpHeaders", i)+".name", "%q is not a valid HTTP header name", hd.Name)
		}
	}
}

// validatePodLifecycle checks the pod-wide fields of its life.
func validatePodLifecycle(e *errs, path string, s *skiffv1.PodSpec) {
	if d := s.ActiveDeadlineSeconds; d != nil && *d < 1 {
		e.add(path+".activeDeadlineSeconds", "must be at least 1")
	}
}

// Kubernetes' defaults for a container's termination message.
const (
	DefaultTerminationMessagePath   = "/dev/termination-log"
	DefaultTerminationMessagePolicy = "File"
)

// defaultContainerLifecycle fills in the termination message's file and
// policy and the path of hooks' HTTP GETs, as Kubernetes does.
func defaultContainerLifecycle(c *skiffv1.Container) {
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = DefaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = DefaultTerminationMessagePolicy
	}
	for _, h := range []*skiffv1.LifecycleHandler{c.GetLifecycle().GetPostStart(), c.GetLifecycle().GetPreStop()} {
		if h.GetHttpGet() != nil && h.HttpGet.Path == "" {
			h.HttpGet.Path = "/"
		}
	}
}
