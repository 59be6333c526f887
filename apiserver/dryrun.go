package apiserver

import (
	"context"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A dry run (kubectl's --dry-run=server) answers what a create or update
// would store, after every check the real one makes, and stores nothing.
// A service's answer shows the addresses it would be given; they are not
// held, so the real request may get others.

// dryRunCreate finishes a create of obj, prepared and validated, without
// storing it.
func (s *Server) dryRunCreate(ctx context.Context, obj skiffv1.Resource, r ref) (*skiffv1.Object, error) {
	switch _, err := s.store.Get(ctx, r.info.Kind, r.namespace, r.name); err {
	case nil:
		return nil, toStatus(storage.ErrExists, r)
	case storage.ErrNotFound:
	default:
		return nil, toStatus(err, r)
	}
	switch o := obj.(type) {
	case *skiffv1.Event:
		if err := s.checkEventQuota(ctx, r.namespace); err != nil {
			return nil, err
		}
	case *skiffv1.Service:
		if err := s.dryRunAllocate(ctx, o, nil); err != nil {
			return nil, toStatus(err, r)
		}
	}
	return skiffv1.Wrap(obj), nil
}

// dryRunUpdate finishes an update of cur to next, validated, without
// storing it.
func (s *Server) dryRunUpdate(ctx context.Context, cur, next skiffv1.Resource) (skiffv1.Resource, error) {
	if svc, ok := next.(*skiffv1.Service); ok {
		if err := s.dryRunAllocate(ctx, svc, cur.(*skiffv1.Service)); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// dryRunAllocate fills in the addresses svc would be given, and refuses
// the ones it asks for that another service holds (cur's are its own).
func (s *Server) dryRunAllocate(ctx context.Context, svc, cur *skiffv1.Service) error {
	try := proto.Clone(svc).(*skiffv1.Service)
	chosen, err := s.assignFresh(ctx, try)
	if err != nil {
		return err
	}
	var had []string
	if cur != nil {
		had = serviceClaims(cur)
	}
	var wanted []string
	for _, c := range serviceClaims(try) {
		if !slices.Contains(had, c) {
			wanted = append(wanted, c)
		}
	}
	if err := s.heldError(ctx, wanted, chosen); err != nil {
		return err
	}
	proto.Reset(svc)
	proto.Merge(svc, try)
	return nil
}
