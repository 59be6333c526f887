package apiserver

import (
	"context"
	"slices"

	"google.golang.org/grpc"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// objectsService is skiffv1's Objects service with List answered by
// listForWire, whose pre-encoded lists need the server to run with
// listwire.Codec. The generated handler would insist on a
// *skiffv1.ListResponse, which has to be marshalled whole.
func objectsService() *grpc.ServiceDesc {
	desc := skiffv1.Objects_ServiceDesc
	desc.Methods = slices.Clone(desc.Methods)
	for i := range desc.Methods {
		if desc.Methods[i].MethodName == "List" {
			desc.Methods[i].Handler = listHandler
		}
	}
	return &desc
}

// listHandler is the generated List handler calling listForWire.
func listHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(skiffv1.ListRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	s := srv.(*Server)
	if interceptor == nil {
		return s.listForWire(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: skiffv1.Objects_List_FullMethodName}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return s.listForWire(ctx, req.(*skiffv1.ListRequest))
	})
}
