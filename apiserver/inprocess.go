package apiserver

import (
	"context"

	"google.golang.org/grpc/status"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// InProcessReads lists and watches as the Objects service does, for the
// informers of components that run in the server's own process (the
// scheduler, controllers and DNS of `skiff server`): the same List and
// Watch code without gRPC between, so what they are handed are the watch
// cache's objects themselves, not copies marshalled and decoded again.
// They are shared with the cache and every watch it serves: a reader must
// never modify one (clone first; informers check this in tests,
// client/mutation.go). It satisfies client.ListerWatcher.
//
// No gRPC interceptor runs for these reads: they are not authenticated,
// not authorized and not counted in skiff_apiserver_requests_total. The
// components read as the controllers' identity, which may read every
// kind; the audit log records no reads (apiserver/audit), so it is
// unchanged. A panic in them fails the call, as grpcrecover does for
// gRPC.
type InProcessReads struct{ s *Server }

// InProcessReads returns the server's in-process reads, once it is
// Ready; false when it runs without a watch cache (there is nothing to
// share: readers use gRPC then).
func (s *Server) InProcessReads() (*InProcessReads, bool) {
	if s.watches == nil {
		return nil, false
	}
	return &InProcessReads{s: s}, true
}

// Serves reports whether the watch cache holds kind; readers of any
// other use gRPC.
func (r *InProcessReads) Serves(kind skiffv1.Kind) bool { return r.s.watches.Holds(kind) }

// List is the Objects service's List.
func (r *InProcessReads) List(ctx context.Context, req *skiffv1.ListRequest) (resp *skiffv1.ListResponse, err error) {
	defer r.s.recoverer.Recover(skiffv1.Objects_List_FullMethodName, &err)
	return r.s.List(ctx, req)
}

// Watch is the Objects service's Watch: recv blocks for the next event;
// io.EOF once the server ended the watch cleanly (it is stopping), the
// error that ended it as a gRPC status (ResourceExhausted for a reader
// that fell behind, OutOfRange for a compacted revision), or ctx's error
// once ctx ended. The watch ends with ctx. It may fall further behind
// than a watch over gRPC before it is ended (see inProcessQueueFactor).
func (r *InProcessReads) Watch(ctx context.Context, req *skiffv1.WatchRequest) (recv func() (*skiffv1.WatchEvent, error), err error) {
	defer r.s.recoverer.Recover(skiffv1.Objects_Watch_FullMethodName, &err)
	w, err := r.s.openWatch(ctx, req, true)
	if err != nil {
		return nil, err
	}
	go func() {
		<-w.ctx.Done()
		w.close()
	}()
	return func() (ev *skiffv1.WatchEvent, err error) {
		defer r.s.recoverer.Recover(skiffv1.Objects_Watch_FullMethodName, &err)
		if err := ctx.Err(); err != nil {
			return nil, status.FromContextError(err).Err()
		}
		ev, err = w.next()
		if err != nil && ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return ev, err
	}, nil
}
