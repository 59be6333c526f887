package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/apiserver/auth"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Interceptor records mutating calls to a Logger after they finish.
type Interceptor struct {
	Log *Logger
	// Errors receives failures to write the audit log; the call itself is
	// not failed for them. Nil discards.
	Errors *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (i *Interceptor) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// Unary records a unary call.
func (i *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !Mutating(info.FullMethod) {
		return handler(ctx, req)
	}
	start := i.now()
	resp, err := handler(ctx, req)
	i.record(ctx, info.FullMethod, req, start, err)
	return resp, err
}

// Stream records a stream (exec, the join calls) with the target read
// from its first message.
func (i *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !Mutating(info.FullMethod) {
		return handler(srv, ss)
	}
	start := i.now()
	fs := &firstMessage{ServerStream: ss}
	err := handler(srv, fs)
	i.record(ss.Context(), info.FullMethod, fs.get(), start, err)
	return err
}

func (i *Interceptor) record(ctx context.Context, method string, req any, start time.Time, err error) {
	st := status.Convert(err)
	e := Entry{
		Time:       start.UTC(),
		Method:     method,
		Code:       st.Code().String(),
		Message:    st.Message(),
		DurationMS: float64(i.now().Sub(start).Microseconds()) / 1000,
		User:       "(unauthenticated)",
	}
	if d, ok := req.(interface{ GetDryRun() bool }); ok {
		e.DryRun = d.GetDryRun()
	}
	if id, ok := auth.FromContext(ctx); ok {
		e.User, e.Groups = id.Name, id.Groups
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		e.Peer = p.Addr.String()
	}
	t := auth.TargetOf(req)
	if t.Kind != skiffv1.Kind_KIND_UNSPECIFIED {
		e.Kind = t.Plural()
	}
	e.Namespace, e.Name = t.Namespace, t.Name
	if t.Name == "" && t.Node != "" {
		e.Name = t.Node
	}
	if werr := i.Log.Log(e); werr != nil && i.Errors != nil {
		i.Errors.Warn("audit log write failed", "err", werr, "method", method, "user", e.User)
	}
}

// firstMessage keeps the first message the handler receives.
type firstMessage struct {
	grpc.ServerStream
	mu    sync.Mutex
	first any
}

func (f *firstMessage) RecvMsg(m any) error {
	err := f.ServerStream.RecvMsg(m)
	if err == nil {
		f.mu.Lock()
		if f.first == nil {
			f.first = m
		}
		f.mu.Unlock()
	}
	return err
}

func (f *firstMessage) get() any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.first
}
