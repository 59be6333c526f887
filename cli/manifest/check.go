package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// The server validates everything again; these checks exist so that the
// common mistakes of a multi-document file are caught before any document of
// it is sent, and the file applies all or nothing.
var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// Check validates one decoded object locally: names, labels, quantities and
// the fields every object of its kind needs. The error names the document.
func Check(o Object) error {
	var problems []string
	add := func(path, format string, args ...any) {
		problems = append(problems, path+": "+fmt.Sprintf(format, args...))
	}
	m := o.Obj.GetMetadata()
	switch k := o.Info.Kind; {
	case m.GetName() == "" && m.GetGenerateName() != "":
		// The server names it: generateName's checks are its own.
	case m.GetName() == "":
		add("metadata.name", "required (or metadata.generateName, for skiff create -f)")
	case k == skiffv1.Kind_KIND_NODE || k == skiffv1.Kind_KIND_EVENT:
		if len(m.GetName()) > 253 || !dnsSubdomain.MatchString(m.GetName()) {
			add("metadata.name", "%q is not a valid name: lower-case letters, digits, '-' and '.'", m.GetName())
		}
	default:
		if len(m.GetName()) > 63 || !dnsLabel.MatchString(m.GetName()) {
			add("metadata.name", "%q is not a valid name: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters", m.GetName())
		}
	}
	if ns := m.GetNamespace(); ns != "" {
		if !o.Info.Namespaced {
			add("metadata.namespace", "a %s is not in a namespace; leave it out", o.Info.Name)
		} else if len(ns) > 63 || !dnsLabel.MatchString(ns) {
			add("metadata.namespace", "%q is not a valid namespace name", ns)
		}
	}
	for k, v := range m.GetLabels() {
		if err := labels.ValidateKey(k); err != nil {
			add("metadata.labels", "%v", err)
		}
		if err := labels.ValidateValue(v); err != nil {
			add("metadata.labels."+k, "%v", err)
		}
	}
	// Every field below may be missing or null in a manifest: read them
	// through the nil-safe getters only.
	switch obj := o.Obj.(type) {
	case *skiffv1.Pod:
		checkPodSpec(add, "spec", obj.GetSpec())
	case *skiffv1.ReplicaSet:
		checkPodSet(add, "a replica set", obj.GetSpec() == nil, obj.GetSpec())
	case *skiffv1.Deployment:
		checkPodSet(add, "a deployment", obj.GetSpec() == nil, obj.GetSpec())
	case *skiffv1.ReplicationController:
		checkPodSet(add, "a replication controller", obj.GetSpec() == nil, obj.GetSpec())
	case *skiffv1.Service:
		for i, p := range obj.GetSpec().GetPorts() {
			if p.GetPort() < 1 || p.GetPort() > 65535 {
				add(fmt.Sprintf("spec.ports[%d].port", i), "%d is not a port number (1-65535)", p.GetPort())
			}
		}
	case *skiffv1.Volume:
		if c := obj.GetSpec().GetCapacity(); c != "" {
			checkQuantity(add, "spec.capacity", c)
		}
	case *skiffv1.Autoscaler:
		if obj.GetSpec() == nil {
			add("spec", "required: an autoscaler needs spec.target and spec.maxReplicas")
			break
		}
		if obj.GetSpec().GetTarget() == "" {
			add("spec.target", "required: the name of a ReplicaSet (or, with targetKind, a Deployment) in the same namespace")
		}
		if obj.GetSpec().GetMaxReplicas() < 1 {
			add("spec.maxReplicas", "required, at least 1")
		}
	case *skiffv1.Event:
		if obj.GetInvolvedObject().GetName() == "" {
			add("involvedObject.name", "required")
		}
		if obj.GetReason() == "" {
			add("reason", "required")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &Error{File: o.File, Doc: o.Doc, Line: o.Line, Ref: fmt.Sprintf("%s %q", o.Info.Name, m.GetName()),
		Err: errors.New(strings.Join(problems, "; "))}
}

// checkPodSet checks what replica sets and deployments share.
// podSetSpec is what a replica set's and a deployment's specs share.
type podSetSpec interface {
	GetTemplate() *skiffv1.PodTemplateSpec
	GetReplicas() int32
}

// checkPodSet checks the template of the pods what (a replica set, a
// deployment) makes, and its replica count.
func checkPodSet(add func(path, format string, args ...any), what string, missing bool, spec podSetSpec) {
	switch {
	case missing:
		add("spec", "required: %s needs spec.template (and spec.replicas)", what)
		return
	case spec.GetTemplate() == nil:
		add("spec.template", "required: the pods %s makes", what)
	default:
		checkPodSpec(add, "spec.template.spec", spec.GetTemplate().GetSpec())
	}
	if r := spec.GetReplicas(); r < 0 {
		add("spec.replicas", "%d must not be negative", r)
	}
}

func checkPodSpec(add func(path, format string, args ...any), path string, s *skiffv1.PodSpec) {
	if s == nil {
		add(path, "required")
		return
	}
	if len(s.GetContainers()) == 0 {
		add(path+".containers", "at least one container is required")
	}
	names := map[string]bool{}
	for i, c := range s.GetContainers() {
		p := fmt.Sprintf("%s.containers[%d]", path, i)
		if c.GetName() == "" {
			add(p+".name", "required")
		} else if names[c.GetName()] {
			add(p+".name", "%q is used by another container", c.GetName())
		}
		names[c.GetName()] = true
		if strings.TrimSpace(c.GetImage()) == "" {
			add(p+".image", "required")
		}
		for _, set := range []struct {
			name string
			m    map[string]string
		}{{"requests", c.GetResources().GetRequests()}, {"limits", c.GetResources().GetLimits()}} {
			for k, v := range set.m {
				checkQuantity(add, p+".resources."+set.name+"."+k, v)
			}
		}
	}
}

func checkQuantity(add func(path, format string, args ...any), path, s string) {
	q, err := quantity.Parse(s)
	if err != nil {
		add(path, "%q is not a quantity (like 250m, 1.5, 128Mi, 1G)", s)
	} else if q.Sign() < 0 {
		add(path, "%q must not be negative", s)
	}
}
