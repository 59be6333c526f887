package apiserver

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// checkEventQuota refuses a new event in a namespace that holds
// EventsPerNamespace already. Events expire after EventTTL (an etcd lease),
// so the namespace takes events again as old ones go. Concurrent creates
// may overshoot the quota by a few: it bounds growth, not an exact count.
func (s *Server) checkEventQuota(ctx context.Context, namespace string) error {
	n, err := s.store.CountIn(ctx, skiffv1.Kind_KIND_EVENT, namespace)
	if err != nil {
		return status.Errorf(codes.Unavailable, "count the events of namespace %s: %v", namespace, err)
	}
	if n >= int64(s.cfg.EventsPerNamespace) {
		return status.Errorf(codes.ResourceExhausted, "namespace %s holds %d events, the most allowed; events expire %v after they are recorded",
			namespace, n, s.cfg.EventTTL)
	}
	return nil
}
