// Package grpcrecover keeps one bad request from taking a gRPC server down:
// its interceptors turn a handler's panic into an Internal error for that
// call alone, log the panic with its stack and count it.
package grpcrecover

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Recoverer holds where panics are reported. Make it with New.
type Recoverer struct {
	log    *slog.Logger
	panics prometheus.Counter
}

// New reports panics to log and counts them in panics, a counter the
// caller names after its component (skiff_apiserver_panics_total).
func New(log *slog.Logger, panics prometheus.Counter) *Recoverer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Recoverer{log: log, panics: panics}
}

// NewCounter makes and registers the counter New takes.
func NewCounter(reg prometheus.Registerer, name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	reg.MustRegister(c)
	return c
}

// ServerOptions installs both interceptors. Chain them inside any
// interceptor that must see the call's outcome (metrics), and outside
// everything else, so a panic in authorization or auditing is caught too.
func (r *Recoverer) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(r.Unary), grpc.ChainStreamInterceptor(r.Stream)}
}

// Unary recovers a unary handler.
func (r *Recoverer) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer r.Recover(info.FullMethod, &err)
	return handler(ctx, req)
}

// Stream recovers a stream handler. Goroutines a handler starts are its
// own to guard: a panic there is beyond any interceptor.
func (r *Recoverer) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer r.Recover(info.FullMethod, &err)
	return handler(srv, ss)
}

// Recover, deferred in a call that does not come through gRPC (the API
// server's in-process reads), does for it what the interceptors do: a
// panic becomes an Internal error in *err, logged and counted. It must be
// the deferred function itself: recover works only there.
func (r *Recoverer) Recover(method string, err *error) {
	p := recover()
	if p == nil {
		return
	}
	if r.panics != nil {
		r.panics.Inc()
	}
	r.log.Error("panic in gRPC handler; the call fails with Internal, the server keeps serving",
		"method", method, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	*err = status.Errorf(codes.Internal, "%s: internal error (the server recovered from a panic and logged it)", method)
}
