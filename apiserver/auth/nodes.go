package auth

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/defaults"
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// nodeReadsWhat is the reason given when a node reads something else.
const nodeReadsWhat = "a node reads only its own pods (list and watch them with the field selector spec.nodeName=<node>), the volumes, ConfigMaps and Secrets they use (one by one), nodes, its own Lease, and services and endpoints (for its proxy)"

// authorizeNode is Kubernetes' NodeRestriction and Node authorizer for
// skiff: a node reads the pods bound to it and what they use, and writes
// its own Node, its pods' status, events about those and its own usage.
// The stored objects decide, never the request: a request could claim any
// node name.
func (a *Authorizer) authorizeNode(ctx context.Context, id pki.Identity, node, method string, req any, t Target) error {
	if req == nil && method != MethodJoinRenewNode {
		return deny(id, method, t, "the request is needed to decide")
	}
	switch method {
	case skiffv1.Objects_Get_FullMethodName:
		switch t.Kind {
		case skiffv1.Kind_KIND_NODE:
			return nil // peers' pod networks, for routes
		case skiffv1.Kind_KIND_POD:
			return a.requireBoundHere(ctx, id, node, method, t)
		case skiffv1.Kind_KIND_VOLUME:
			return a.requireVolumeUsedHere(ctx, id, node, method, t)
		case skiffv1.Kind_KIND_PERSISTENT_VOLUME:
			return a.requirePersistentVolumeUsedHere(ctx, id, node, method, t)
		case skiffv1.Kind_KIND_CONFIG_MAP, skiffv1.Kind_KIND_SECRET:
			return a.requireConfigUsedHere(ctx, id, node, method, t)
		case skiffv1.Kind_KIND_LEASE:
			return requireOwnLease(id, node, method, t)
		}
		return deny(id, method, t, nodeReadsWhat)

	case skiffv1.Objects_List_FullMethodName, skiffv1.Objects_Watch_FullMethodName:
		switch t.Kind {
		case skiffv1.Kind_KIND_NODE:
			return nil
		case skiffv1.Kind_KIND_SERVICE, skiffv1.Kind_KIND_ENDPOINTS:
			// The agent's service proxy: kube-proxy's node-proxier role.
			return nil
		case skiffv1.Kind_KIND_POD:
			if selectsNode(t.FieldSelector, node) {
				return nil
			}
		}
		return deny(id, method, t, nodeReadsWhat)

	case skiffv1.Objects_Create_FullMethodName:
		switch t.Kind {
		case skiffv1.Kind_KIND_EVENT:
			if err := a.checkNodeEvent(ctx, id, node, method, t); err != nil {
				return err
			}
			return a.takeEventToken(id, node, method, t)
		case skiffv1.Kind_KIND_NODE:
			if t.Name == node {
				return nil
			}
			return deny(id, method, t, "a node may only register itself")
		case skiffv1.Kind_KIND_LEASE:
			return requireOwnLease(id, node, method, t)
		}
		return deny(id, method, t, "nodes create only events, their own Node and their own Lease")

	case skiffv1.Objects_UpdateStatus_FullMethodName:
		switch t.Kind {
		case skiffv1.Kind_KIND_NODE:
			if t.Name == node {
				return nil
			}
			return deny(id, method, t, "a node may only update its own Node")
		case skiffv1.Kind_KIND_POD:
			return a.requireBoundHere(ctx, id, node, method, t)
		}
		return deny(id, method, t, "nodes update the status of their Node and their pods only")

	case skiffv1.Objects_Update_FullMethodName:
		if t.Kind == skiffv1.Kind_KIND_LEASE {
			return requireOwnLease(id, node, method, t) // renewing it
		}
		// The Node's spec (pod CIDR, taints, cordon) and pods' specs are
		// the cluster's to decide, not the node's.
		return deny(id, method, t, "a node may only update status, not spec")

	case skiffv1.Objects_Delete_FullMethodName:
		if t.Kind == skiffv1.Kind_KIND_LEASE {
			return requireOwnLease(id, node, method, t)
		}
		if t.Kind != skiffv1.Kind_KIND_POD {
			return deny(id, method, t, "nodes delete only pods bound to them")
		}
		if !t.Force {
			return deny(id, method, t, "a node only force-deletes pods it has stopped; graceful deletion is for users and controllers")
		}
		return a.requireBoundHere(ctx, id, node, method, t)

	case skiffv1.Usage_Report_FullMethodName:
		if t.Node != node {
			return deny(id, method, t, "a node may only report its own usage")
		}
		return a.checkUsagePods(ctx, id, node, method, req.(*skiffv1.UsageReport))

	case MethodJoinRenewNode:
		return nil
	}
	return deny(id, method, t, "not allowed for nodes")
}

// requireOwnLease allows the call only on the node's own Lease: the one
// named after it in kube-node-lease, its heartbeat. A node renewing
// another's would keep a dead node looking alive.
func requireOwnLease(id pki.Identity, node, method string, t Target) error {
	if t.Namespace == defaults.NodeLeaseNamespace && t.Name == node {
		return nil
	}
	return deny(id, method, t, fmt.Sprintf("a node may only touch its own Lease (%s in namespace %s)", node, defaults.NodeLeaseNamespace))
}

// selectsNode reports whether a field selector keeps only the pods bound
// to node: one of its clauses is spec.nodeName=<node>. Other clauses only
// narrow it further.
func selectsNode(selector, node string) bool {
	for _, clause := range strings.Split(selector, ",") {
		if strings.Contains(clause, "!=") {
			continue
		}
		field, value, ok := strings.Cut(strings.Replace(clause, "==", "=", 1), "=")
		if ok && strings.TrimSpace(field) == "spec.nodeName" && strings.TrimSpace(value) == node {
			return true
		}
	}
	return false
}

// requireBoundHere allows the call only when the stored pod is bound to
// node.
func (a *Authorizer) requireBoundHere(ctx context.Context, id pki.Identity, node, method string, t Target) error {
	pod, err := a.storedPod(ctx, id, t)
	if err != nil {
		return err
	}
	if why := notBoundHere(pod, node); why != "" {
		return deny(id, method, t, why)
	}
	return nil
}

// storedPod reads the pod t names, as a status error when it cannot.
func (a *Authorizer) storedPod(ctx context.Context, id pki.Identity, t Target) (*skiffv1.Pod, error) {
	if a.Pods == nil {
		return nil, status.Error(codes.Internal, "auth: no pod lookup configured for node authorization")
	}
	pod, err := a.Pods(ctx, t.Namespace, t.Name)
	return pod, lookupError(pod == nil, err, id, t)
}

// lookupError turns a failed lookup into the status the caller gets:
// NotFound as the handler would say it, Unavailable when the store failed.
func lookupError(missing bool, err error, id pki.Identity, t Target) error {
	if status.Code(err) == codes.NotFound || (err == nil && missing) {
		return status.Errorf(codes.NotFound, "%s not found", t)
	}
	if err != nil {
		return status.Errorf(codes.Unavailable, "auth: read %s to authorize %s: %v", t, id.Name, err)
	}
	return nil
}

// notBoundHere says why pod is not node's, or "" when it is.
func notBoundHere(pod *skiffv1.Pod, node string) string {
	switch bound := pod.GetSpec().GetNodeName(); bound {
	case node:
		return ""
	case "":
		return "it is not bound to any node"
	default:
		return fmt.Sprintf("it is bound to node %s", bound)
	}
}

// requireVolumeUsedHere allows reading a Volume that a pod bound to node
// uses, or a local volume that lives on node (its data is there).
func (a *Authorizer) requireVolumeUsedHere(ctx context.Context, id pki.Identity, node, method string, t Target) error {
	if a.Volumes == nil || a.NodePods == nil {
		return status.Error(codes.Internal, "auth: no volume lookups configured for node authorization")
	}
	vol, err := a.Volumes(ctx, t.Namespace, t.Name)
	if err := lookupError(vol == nil, err, id, t); err != nil {
		return err
	}
	if vol.GetSpec().GetLocal().GetNodeName() == node {
		return nil
	}
	return a.requireUsedByNodePod(ctx, id, node, method, t, func(p *skiffv1.Pod) bool {
		for _, v := range p.GetSpec().GetVolumes() {
			if v.GetVolume().GetName() == t.Name {
				return true
			}
		}
		return false
	})
}

// requirePersistentVolumeUsedHere allows reading a PersistentVolume bound
// to a claim that a pod bound to node uses: both sides of the binding must
// name each other, so a claim cannot point a node at another's volume.
func (a *Authorizer) requirePersistentVolumeUsedHere(ctx context.Context, id pki.Identity, node, method string, t Target) error {
	if a.PersistentVolumes == nil || a.Volumes == nil || a.NodePods == nil {
		return status.Error(codes.Internal, "auth: no volume lookups configured for node authorization")
	}
	pv, err := a.PersistentVolumes(ctx, t.Name)
	if err := lookupError(pv == nil, err, id, t); err != nil {
		return err
	}
	ref := pv.GetSpec().GetClaimRef()
	if ref.GetName() == "" {
		return deny(id, method, t, "it is bound to no claim")
	}
	claim, err := a.Volumes(ctx, ref.GetNamespace(), ref.GetName())
	if err != nil || claim == nil || claim.GetSpec().GetVolumeName() != t.Name || (ref.GetUid() != "" && ref.GetUid() != claim.GetMetadata().GetUid()) {
		return deny(id, method, t, "its claim is not bound to it")
	}
	ct := Target{Kind: skiffv1.Kind_KIND_VOLUME, Namespace: ref.GetNamespace(), Name: ref.GetName()}
	return a.requireUsedByNodePod(ctx, id, node, method, ct, func(p *skiffv1.Pod) bool {
		for _, v := range p.GetSpec().GetVolumes() {
			if v.GetVolume().GetName() == ct.Name {
				return true
			}
		}
		return false
	})
}

// requireConfigUsedHere allows reading a ConfigMap or Secret that a pod
// bound to node uses, as Kubernetes' node authorizer does: a node never
// sees the Secrets of pods running elsewhere.
func (a *Authorizer) requireConfigUsedHere(ctx context.Context, id pki.Identity, node, method string, t Target) error {
	if a.NodePods == nil {
		return status.Error(codes.Internal, "auth: no pod lookup configured for node authorization")
	}
	return a.requireUsedByNodePod(ctx, id, node, method, t, func(p *skiffv1.Pod) bool {
		return p.GetSpec().Uses(t.Kind, t.Name)
	})
}

// requireUsedByNodePod allows the request when a pod of t's namespace
// bound to node uses t. The index is asked first; a pod it names is read
// back from the store (one key) so that a deleted pod stops granting at
// once, and the store's list is asked only when the index says no.
func (a *Authorizer) requireUsedByNodePod(ctx context.Context, id pki.Identity, node, method string, t Target, uses func(*skiffv1.Pod) bool) error {
	pods, err := a.NodePods(ctx, node, t.Namespace)
	if err != nil {
		return status.Errorf(codes.Unavailable, "auth: list the pods of node %s to authorize %s: %v", node, id.Name, err)
	}
	for _, p := range pods {
		if !uses(p) {
			continue
		}
		if a.Pods == nil {
			return nil
		}
		stored, err := a.Pods(ctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName())
		if err != nil && status.Code(err) != codes.NotFound {
			return status.Errorf(codes.Unavailable, "auth: read pod %s to authorize %s: %v", p.GetMetadata().GetName(), id.Name, err)
		}
		if stored != nil && stored.GetSpec().GetNodeName() == node && uses(stored) {
			return nil
		}
	}
	if a.StoredNodePods != nil {
		pods, err := a.StoredNodePods(ctx, node, t.Namespace)
		if err != nil {
			return status.Errorf(codes.Unavailable, "auth: list the pods of node %s to authorize %s: %v", node, id.Name, err)
		}
		for _, p := range pods {
			if uses(p) {
				return nil
			}
		}
	}
	return deny(id, method, t, fmt.Sprintf("no pod bound to node %s uses it", node))
}

// checkNodeEvent allows an event about the node's own Node or about a pod
// bound to it, in that object's namespace, reported as the node's agent.
func (a *Authorizer) checkNodeEvent(ctx context.Context, id pki.Identity, node, method string, t Target) error {
	ev, _ := t.Object.(*skiffv1.Event)
	if ev == nil {
		return deny(id, method, t, "the request carries no event")
	}
	if want := "agent/" + node; ev.GetSource() != want {
		return deny(id, method, t, fmt.Sprintf("a node's events have source %q", want))
	}
	about := ev.GetInvolvedObject()
	switch about.GetKind() {
	case "Node":
		if about.GetName() != node {
			return deny(id, method, t, "a node records events only about its own Node and its pods")
		}
		if t.Namespace != "default" {
			return deny(id, method, t, "events about a Node go in namespace default")
		}
		return nil
	case "Pod":
		if about.GetNamespace() != t.Namespace {
			return deny(id, method, t, "an event about a pod goes in the pod's namespace")
		}
		why, err := a.notNodesPod(ctx, id, node, about.GetNamespace(), about.GetName(), about.GetUid())
		if err != nil || why == "" {
			return err
		}
		return deny(id, method, t, "it is about "+why)
	}
	return deny(id, method, t, "a node records events only about its own Node and its pods")
}

// checkUsagePods allows a usage report only when every pod in it is bound
// to node: readings feed the autoscaler and `skiff top`.
func (a *Authorizer) checkUsagePods(ctx context.Context, id pki.Identity, node, method string, r *skiffv1.UsageReport) error {
	for _, p := range r.GetPods() {
		why, err := a.notNodesPod(ctx, id, node, p.GetNamespace(), p.GetName(), p.GetUid())
		if err != nil {
			return err
		}
		if why != "" {
			return deny(id, method, Target{Node: node}, "it includes "+why)
		}
	}
	return nil
}

// notNodesPod says why the pod a request mentions (with its uid, when
// given) is not one bound to node, or "" when it is: "pods/ns/name: it is
// bound to node n2".
func (a *Authorizer) notNodesPod(ctx context.Context, id pki.Identity, node, namespace, name, uid string) (string, error) {
	ref := Target{Kind: skiffv1.Kind_KIND_POD, Namespace: namespace, Name: name}
	pod, err := a.storedPod(ctx, id, ref)
	switch {
	case status.Code(err) == codes.NotFound:
		return fmt.Sprintf("%s, which does not exist", ref), nil
	case err != nil:
		return "", err
	}
	if why := notBoundHere(pod, node); why != "" {
		return fmt.Sprintf("%s: %s", ref, why), nil
	}
	if uid != "" && uid != pod.GetMetadata().GetUid() {
		return fmt.Sprintf("an earlier %s (uid %s)", ref, uid), nil
	}
	return "", nil
}
