package auth

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// nodeReadable are the kinds a node agent reads: its pods, and what they
// need (services for DNS and env, volumes, namespaces), other nodes (for
// routes between pod networks) and events.
func nodeReadable(k skiffv1.Kind) bool {
	switch k {
	case skiffv1.Kind_KIND_POD, skiffv1.Kind_KIND_SERVICE, skiffv1.Kind_KIND_VOLUME,
		skiffv1.Kind_KIND_NODE, skiffv1.Kind_KIND_NAMESPACE, skiffv1.Kind_KIND_EVENT:
		return true
	}
	return false
}

// authorizeNode is Kubernetes' NodeRestriction for skiff.
func (a *Authorizer) authorizeNode(ctx context.Context, id pki.Identity, node, method string, req any, t Target) error {
	if req == nil && method != MethodJoinRenewNode {
		return deny(id, method, t, "the request is needed to decide")
	}
	switch method {
	case skiffv1.Objects_Get_FullMethodName, skiffv1.Objects_List_FullMethodName, skiffv1.Objects_Watch_FullMethodName:
		if nodeReadable(t.Kind) {
			return nil
		}
		return deny(id, method, t, "nodes read only pods, services, volumes, nodes, namespaces and events")

	case skiffv1.Objects_Create_FullMethodName:
		switch t.Kind {
		case skiffv1.Kind_KIND_EVENT:
			return nil
		case skiffv1.Kind_KIND_NODE:
			if t.Name == node {
				return nil
			}
			return deny(id, method, t, "a node may only register itself")
		}
		return deny(id, method, t, "nodes create only events and their own Node")

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
		// The Node's spec (pod CIDR, taints, cordon) and pods' specs are
		// the cluster's to decide, not the node's.
		return deny(id, method, t, "a node may only update status, not spec")

	case skiffv1.Objects_Delete_FullMethodName:
		if t.Kind != skiffv1.Kind_KIND_POD {
			return deny(id, method, t, "nodes delete only pods bound to them")
		}
		if !t.Force {
			return deny(id, method, t, "a node only force-deletes pods it has stopped; graceful deletion is for users and controllers")
		}
		return a.requireBoundHere(ctx, id, node, method, t)

	case skiffv1.Usage_Report_FullMethodName:
		if t.Node == node {
			return nil
		}
		return deny(id, method, t, "a node may only report its own usage")

	case MethodJoinRenewNode:
		return nil
	}
	return deny(id, method, t, "not allowed for nodes")
}

// requireBoundHere allows the call only when the stored pod is bound to
// node. The stored pod decides, never the request: a request could claim
// any node name.
func (a *Authorizer) requireBoundHere(ctx context.Context, id pki.Identity, node, method string, t Target) error {
	if a.Pods == nil {
		return status.Error(codes.Internal, "auth: no pod lookup configured for node authorization")
	}
	pod, err := a.Pods(ctx, t.Namespace, t.Name)
	if status.Code(err) == codes.NotFound || (err == nil && pod == nil) {
		return status.Errorf(codes.NotFound, "%s not found", t)
	}
	if err != nil {
		return status.Errorf(codes.Unavailable, "auth: read %s to authorize %s: %v", t, id.Name, err)
	}
	switch bound := pod.GetSpec().GetNodeName(); bound {
	case node:
		return nil
	case "":
		return deny(id, method, t, "it is not bound to any node")
	default:
		return deny(id, method, t, fmt.Sprintf("it is bound to node %s", bound))
	}
}
