package apiserver

import (
	"context"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// PrepareCreate is what Create does to a request's object before storing
// it, for the fuzz test.
func PrepareCreate(o *skiffv1.Object) (skiffv1.Resource, error) {
	obj, _, err := unwrapRequest(o)
	if err != nil {
		return nil, err
	}
	return obj, prepareCreate(obj)
}

// ListForWire is what the gRPC service answers a list request with.
func ListForWire(s *Server, ctx context.Context, req *skiffv1.ListRequest) (any, error) {
	return s.listForWire(ctx, req)
}
