package auth

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// PodLookup reads a stored pod, for the rules that depend on where it is
// bound. It returns (nil, nil) or a NotFound status when there is none.
type PodLookup func(ctx context.Context, namespace, name string) (*skiffv1.Pod, error)

// VolumeLookup reads a stored Volume, like PodLookup.
type VolumeLookup func(ctx context.Context, namespace, name string) (*skiffv1.Volume, error)

// PersistentVolumeLookup reads a stored PersistentVolume, like PodLookup.
type PersistentVolumeLookup func(ctx context.Context, name string) (*skiffv1.PersistentVolume, error)

// NodePodsLookup lists the stored pods of a namespace bound to a node.
type NodePodsLookup func(ctx context.Context, node, namespace string) ([]*skiffv1.Pod, error)

// Authorizer applies the rules. The lookups are required for node
// identities: what a node may touch depends on the stored pods bound to it.
type Authorizer struct {
	Pods    PodLookup
	Volumes VolumeLookup
	// PersistentVolumes lets a node read the PersistentVolume a claim its
	// pods use is bound to.
	PersistentVolumes PersistentVolumeLookup
	NodePods          NodePodsLookup
	// StoredNodePods, when set, is asked when NodePods (an index that may
	// lag a just-bound pod) finds no pod that uses an object.
	StoredNodePods NodePodsLookup
	// EventRate and EventBurst limit the events each node creates (a token
	// bucket per node): 5 a second and a burst of 100 if zero.
	EventRate  float64
	EventBurst int

	eventLimits nodeLimiters
}

// Authorize returns nil when id may call method with req, else a
// PermissionDenied status naming who was refused what (or NotFound when a
// node acts on a pod that does not exist, as the handler would say). req
// may be nil when a stream sends before it receives; rules that need the
// request then refuse.
func (a *Authorizer) Authorize(ctx context.Context, id pki.Identity, method string, req any) error {
	if id.Name == pki.Admin {
		return nil
	}
	if isHealth(method) {
		return nil
	}
	t := TargetOf(req)
	if node, ok := id.NodeName(); ok {
		return a.authorizeNode(ctx, id, node, method, req, t)
	}
	switch id.Name {
	case pki.Scheduler:
		return authorizeScheduler(id, method, t)
	case pki.Controller:
		return authorizeController(id, method, t)
	case pki.Viewer:
		return authorizeViewer(id, method, t)
	case Bootstrap:
		if method == MethodJoinSignNode {
			return nil
		}
		return deny(id, method, t, "a join token may only call "+MethodJoinSignNode)
	}
	return deny(id, method, t, "only admin may call "+method)
}

// deny builds the PermissionDenied status: "<who> may not <verb> <what>:
// <why>".
func deny(id pki.Identity, method string, t Target, why string) error {
	what := t.String()
	if !isObjectsMethod(method) && t.Kind == skiffv1.Kind_KIND_UNSPECIFIED {
		what = method
		if t.Node != "" {
			what = "node " + t.Node
		}
	}
	return status.Error(codes.PermissionDenied, fmt.Sprintf("%s may not %s %s: %s", id.Name, verb(method), what, why))
}
