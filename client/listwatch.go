package client

import (
	"context"
	"fmt"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// ListerWatcher is what informers list and watch through (client-go's
// ListerWatcher): the API server over gRPC, a Client's connection, or, in
// the API server's own process, the server itself
// (apiserver.Server.InProcessReads), whose answers are the objects of its
// watch cache rather than copies decoded from the wire. Either way the
// answers are the server's List and Watch.
type ListerWatcher interface {
	// List is the Objects service's List.
	List(ctx context.Context, req *skiffv1.ListRequest) (*skiffv1.ListResponse, error)
	// Watch is the Objects service's Watch: recv blocks for the next
	// event and returns an error once the watch is over (io.EOF when the
	// server ended it without one). The watch ends with ctx.
	Watch(ctx context.Context, req *skiffv1.WatchRequest) (recv func() (*skiffv1.WatchEvent, error), err error)
}

// grpcListerWatcher reads over a gRPC connection.
type grpcListerWatcher struct{ api skiffv1.ObjectsClient }

func (g grpcListerWatcher) List(ctx context.Context, req *skiffv1.ListRequest) (*skiffv1.ListResponse, error) {
	return g.api.List(ctx, req)
}

func (g grpcListerWatcher) Watch(ctx context.Context, req *skiffv1.WatchRequest) (func() (*skiffv1.WatchEvent, error), error) {
	stream, err := g.api.Watch(ctx, req)
	if err != nil {
		return nil, err
	}
	return stream.Recv, nil
}

// unwrapAs is an envelope's object as a T, or an error when the server
// answered with another kind.
func unwrapAs[T skiffv1.Resource](kind skiffv1.Kind, o *skiffv1.Object) (T, error) {
	v, ok := o.Unwrap().(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("client: server answered a %v where a %v was expected", o.ObjectKind(), kind)
	}
	return v, nil
}

// listAs lists kind through lw in pages of chunk (see ListAll).
func listAs[T skiffv1.Resource](ctx context.Context, lw ListerWatcher, kind skiffv1.Kind, opts ListOptions, chunk int64) ([]T, string, error) {
	items, rv, err := listPages(ctx, lw, &skiffv1.ListRequest{
		Kind: kind, Namespace: opts.Namespace, LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector,
	}, chunk)
	if err != nil {
		return nil, "", err
	}
	out := make([]T, 0, len(items))
	for _, o := range items {
		v, err := unwrapAs[T](kind, o)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	return out, rv, nil
}
