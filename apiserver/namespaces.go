package apiserver

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// ensureNamespaces creates the namespaces that always exist.
func (s *Server) ensureNamespaces(ctx context.Context) error {
	for name := range permanentNamespaces {
		ns := &skiffv1.Namespace{
			Metadata: &skiffv1.ObjectMeta{Name: name, CreationTimestamp: timestamppb.Now(), Generation: 1},
			Status:   &skiffv1.NamespaceStatus{Phase: "Active"},
		}
		ns.Metadata.Uid = newUID()
		if _, err := s.store.Create(ctx, ns, nil, 0); err != nil && err != storage.ErrExists {
			return err
		}
	}
	return nil
}

// checkNamespaceOpen refuses objects in a namespace that is missing or
// being deleted.
func (s *Server) checkNamespaceOpen(ctx context.Context, name string) error {
	if _, open := s.namespaces.open(name); open {
		return nil
	}
	obj, err := s.store.Get(ctx, skiffv1.Kind_KIND_NAMESPACE, "", name)
	if err == storage.ErrNotFound {
		return status.Errorf(codes.NotFound, "namespace %q not found; create it first (skiff create namespace %s, or a Namespace manifest)", name, name)
	}
	if err != nil {
		return toStatus(err, ref{name: name})
	}
	if obj.GetMetadata().GetDeletionTimestamp() != nil {
		return status.Errorf(codes.FailedPrecondition, "namespace %q is being deleted; nothing new can be created in it", name)
	}
	return nil
}

func (s *Server) wakeNamespaceFinalizer() {
	select {
	case s.nsWake <- struct{}{}:
	default:
	}
}

// runNamespaceFinalizer deletes what is in namespaces being deleted, then
// the namespaces themselves once they are empty. Pods on nodes go
// gracefully, so a namespace may take a while.
func (s *Server) runNamespaceFinalizer(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		if err := s.finalizeNamespaces(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("namespace deletion", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.nsWake:
		}
	}
}

func (s *Server) finalizeNamespaces(ctx context.Context) error {
	nss, _, err := s.store.List(ctx, skiffv1.Kind_KIND_NAMESPACE, "")
	if err != nil {
		return err
	}
	for _, ns := range nss {
		m := ns.GetMetadata()
		if m.GetDeletionTimestamp() == nil {
			continue
		}
		left := 0
		for _, info := range skiffv1.Kinds() {
			if !info.Namespaced {
				continue
			}
			objs, _, err := s.store.List(ctx, info.Kind, m.Name)
			if err != nil {
				return err
			}
			for _, o := range objs {
				left++
				_, err := s.Delete(ctx, &skiffv1.DeleteRequest{Kind: info.Kind, Namespace: m.Name, Name: o.GetMetadata().GetName()})
				if status.Code(err) == codes.NotFound {
					left--
				} else if err != nil {
					return err
				} else if gone, _ := s.store.Get(ctx, info.Kind, m.Name, o.GetMetadata().GetName()); gone == nil {
					left--
				}
			}
		}
		// Empty, and no finalizer of the namespace's own holds it: it goes,
		// unless it changed since it was read (then the next round sees).
		if left == 0 && len(m.GetFinalizers()) == 0 {
			_, err := s.store.Delete(ctx, skiffv1.Kind_KIND_NAMESPACE, "", m.Name, storage.Revision(ns), nil)
			if err != nil && err != storage.ErrNotFound && err != storage.ErrConflict {
				return err
			}
			if err == nil {
				s.log.Info("namespace deleted", "namespace", m.Name)
			}
		}
	}
	return nil
}
