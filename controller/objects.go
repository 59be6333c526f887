package controller

import (
	"context"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// callTimeout bounds each API call a reconciler makes.
const callTimeout = 10 * time.Second

func call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout)
}

// podActive: the pod counts toward its replica set (not being deleted,
// not finished).
func podActive(p *skiffv1.Pod) bool {
	return p.GetMetadata().GetDeletionTimestamp() == nil && !skiffv1.IsPodTerminal(p)
}

// podAvailable: ready for at least minReady (as Kubernetes' availability);
// wait is how long until a ready pod becomes available, 0 otherwise.
func podAvailable(p *skiffv1.Pod, minReady time.Duration, now time.Time) (bool, time.Duration) {
	c := skiffv1.FindCondition(p.GetStatus().GetConditions(), "Ready")
	if c == nil || c.GetStatus() != "True" {
		return false, 0
	}
	if minReady <= 0 || c.GetLastTransitionTime() == nil {
		return true, 0
	}
	since := now.Sub(c.GetLastTransitionTime().AsTime())
	if since >= minReady {
		return true, 0
	}
	return false, minReady - since
}

// controllerRef is the owner reference marked controller, or nil.
func controllerRef(m *skiffv1.ObjectMeta) *skiffv1.OwnerReference {
	for _, r := range m.GetOwnerReferences() {
		if r.GetController() {
			return r
		}
	}
	return nil
}

// Index names on the process's shared informers: prefixed, so no other
// component's index takes them.
const (
	indexNamespace = "controller/namespace"
	indexNode      = "controller/node"
	indexOwner     = "controller/owner" // every owner reference's UID
	// indexOrphan files the pods without a controller by namespace: those
	// a replica set may adopt.
	indexOrphan = "controller/orphan"
)

func orphanByNamespace(p *skiffv1.Pod) []string {
	if controllerRef(p.GetMetadata()) != nil {
		return nil
	}
	return []string{p.GetMetadata().GetNamespace()}
}

func byNamespace[T skiffv1.Resource](o T) []string {
	return []string{o.GetMetadata().GetNamespace()}
}

func byOwner[T skiffv1.Resource](o T) []string {
	refs := o.GetMetadata().GetOwnerReferences()
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.GetUid())
	}
	return out
}

func byNode(p *skiffv1.Pod) []string {
	if n := p.GetSpec().GetNodeName(); n != "" {
		return []string{n}
	}
	return nil
}
