package apiserver

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/validation"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// permanentNamespaces cannot be deleted; the server creates them.
var permanentNamespaces = map[string]bool{"default": true, "skiff-system": true, defaults.NodeLeaseNamespace: true, defaults.SystemNamespace: true}

func (s *Server) Delete(ctx context.Context, req *skiffv1.DeleteRequest) (*skiffv1.DeleteResponse, error) {
	info, err := kindOf(req.GetKind())
	if err != nil {
		return nil, err
	}
	if req.GetName() == "" {
		return nil, invalid("name: required")
	}
	r := ref{info: info, namespace: namespaceOf(info, req.GetNamespace()), name: req.GetName()}
	if info.Kind == skiffv1.Kind_KIND_NAMESPACE && permanentNamespaces[r.name] {
		return nil, status.Errorf(codes.FailedPrecondition, "namespace %q always exists and cannot be deleted", r.name)
	}
	switch req.GetPropagation() {
	case "", "Background", "Orphan":
	default:
		return nil, invalid("propagation: %q is not one of Background, Orphan", req.GetPropagation())
	}
	if g := req.GracePeriodSeconds; g != nil && *g < 0 {
		return nil, invalid("gracePeriodSeconds: must not be negative")
	}
	want, err := storage.ParseRevision(req.GetResourceVersion())
	if err != nil {
		return nil, invalid("resourceVersion: %v", err)
	}
	for attempt := 0; ; attempt++ {
		resp, err := s.deleteOnce(ctx, req, r, want)
		if storageConflict(err) && want == 0 && attempt < maxBlindRetries {
			continue
		}
		if err != nil {
			return nil, toStatus(err, r)
		}
		return resp, nil
	}
}

func (s *Server) deleteOnce(ctx context.Context, req *skiffv1.DeleteRequest, r ref, want int64) (*skiffv1.DeleteResponse, error) {
	cur, err := s.store.GetAtLeast(ctx, r.info.Kind, r.namespace, r.name, want)
	if err != nil {
		return nil, err
	}
	curRev := storage.Revision(cur)
	if want != 0 && want != curRev {
		return nil, storage.ErrConflict
	}
	if uid := req.GetUid(); uid != "" && uid != cur.GetMetadata().GetUid() {
		return nil, status.Errorf(codes.Aborted, "conflict: %s has uid %s, not %s", r, cur.GetMetadata().GetUid(), uid)
	}
	if req.GetPropagation() == "Orphan" {
		// Kubernetes' order: mark the owner as being deleted first, so its
		// controller stops adopting or replacing the dependents whose
		// references go next; then delete it below.
		// (A pod's own deletion timestamp carries its grace period: leave
		// it to beginGracefulDelete.)
		if cur.GetMetadata().GetDeletionTimestamp() == nil && r.info.Kind != skiffv1.Kind_KIND_POD {
			marked := proto.Clone(cur).(skiffv1.Resource)
			marked.GetMetadata().DeletionTimestamp = timestamppb.Now()
			if cur, err = s.store.Update(ctx, marked, curRev); err != nil {
				return nil, err
			}
			curRev = storage.Revision(cur)
		}
		if err := s.orphanDependents(ctx, cur); err != nil {
			return nil, err
		}
	}
	// Force skips the grace period, never finalizers: what they guard must
	// still be cleaned up.
	if req.GetForce() && len(cur.GetMetadata().GetFinalizers()) > 0 {
		if cur.GetMetadata().GetDeletionTimestamp() != nil {
			return &skiffv1.DeleteResponse{Object: skiffv1.Wrap(cur)}, nil
		}
		next := proto.Clone(cur).(skiffv1.Resource)
		next.GetMetadata().DeletionTimestamp = timestamppb.Now()
		out, err := s.store.Update(ctx, next, curRev)
		if err != nil {
			return nil, err
		}
		return &skiffv1.DeleteResponse{Object: skiffv1.Wrap(out)}, nil
	}
	if !req.GetForce() {
		if next, graceful := s.beginGracefulDelete(cur, req.GracePeriodSeconds); graceful {
			if proto.Equal(cur, next) {
				return &skiffv1.DeleteResponse{Object: skiffv1.Wrap(cur)}, nil
			}
			out, err := s.store.Update(ctx, next, curRev)
			if err != nil {
				return nil, err
			}
			if r.info.Kind == skiffv1.Kind_KIND_NAMESPACE {
				// Refuse new objects from now on, not from when the
				// cache's watch catches up.
				s.namespaces.set(out, false)
				s.wakeNamespaceFinalizer()
			}
			return &skiffv1.DeleteResponse{Object: skiffv1.Wrap(out)}, nil
		}
	}
	gone, err := s.store.Delete(ctx, r.info.Kind, r.namespace, r.name, curRev, claimsOf(cur))
	if err != nil {
		return nil, err
	}
	switch o := gone.(type) {
	case *skiffv1.Node:
		s.cidrs.release(o.GetSpec().GetPodCidr())
	case *skiffv1.Service:
		s.services.release(serviceClaims(o))
	}
	return &skiffv1.DeleteResponse{Object: skiffv1.Wrap(gone), Deleted: true}, nil
}

// beginGracefulDelete returns the object marked for deletion, or false when
// it should go at once. Graceful are: namespaces (their contents go first),
// objects with finalizers, and pods running on a node (the node's agent
// stops them and then confirms with a forced delete).
func (s *Server) beginGracefulDelete(cur skiffv1.Resource, grace *int64) (skiffv1.Resource, bool) {
	next := proto.Clone(cur).(skiffv1.Resource)
	m := next.GetMetadata()
	now := time.Now()
	mark := func(after time.Duration) {
		at := timestamppb.New(now.Add(after))
		// A second delete may shorten the wait, never lengthen it.
		if m.DeletionTimestamp == nil || at.AsTime().Before(m.DeletionTimestamp.AsTime()) {
			m.DeletionTimestamp = at
			m.DeletionGracePeriodSeconds = int64(after / time.Second)
		}
	}
	switch o := next.(type) {
	case *skiffv1.Namespace:
		mark(0)
		o.Status = &skiffv1.NamespaceStatus{Phase: "Terminating"}
		return next, true
	case *skiffv1.Pod:
		phase := o.GetStatus().GetPhase()
		if o.GetSpec().GetNodeName() != "" && !skiffv1.IsTerminalPhase(phase) {
			g := o.GetSpec().GetTerminationGracePeriodSeconds()
			if o.GetSpec().TerminationGracePeriodSeconds == nil {
				g = validation.DefaultGracePeriodSeconds
			}
			if grace != nil {
				g = *grace
			}
			if g == 0 && len(m.Finalizers) == 0 {
				return nil, false
			}
			mark(time.Duration(g) * time.Second)
			return next, true
		}
	}
	if len(m.Finalizers) > 0 {
		mark(0)
		return next, true
	}
	return nil, false
}

// orphanDependents removes owner references to obj from the objects in its
// namespace, so that the garbage collector leaves them alone.
func (s *Server) orphanDependents(ctx context.Context, owner skiffv1.Resource) error {
	uid := owner.GetMetadata().GetUid()
	ns := owner.GetMetadata().GetNamespace()
	for _, info := range skiffv1.Kinds() {
		if !info.Namespaced || ns == "" {
			continue
		}
		objs, _, err := s.store.List(ctx, info.Kind, ns)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if !ownedBy(o, uid) {
				continue
			}
			_, err := s.store.GuaranteedUpdate(ctx, info.Kind, ns, o.GetMetadata().GetName(), func(cur skiffv1.Resource) (skiffv1.Resource, error) {
				m := cur.GetMetadata()
				kept := m.OwnerReferences[:0]
				for _, ref := range m.OwnerReferences {
					if ref.Uid != uid {
						kept = append(kept, ref)
					}
				}
				m.OwnerReferences = kept
				return cur, nil
			})
			if err != nil && err != storage.ErrNotFound {
				return err
			}
		}
	}
	return nil
}

func ownedBy(o skiffv1.Resource, uid string) bool {
	for _, ref := range o.GetMetadata().GetOwnerReferences() {
		if ref.Uid == uid {
			return true
		}
	}
	return false
}
