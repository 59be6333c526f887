package auth

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Guard holds the authenticator and authorizer and makes the gRPC
// interceptors. Chain them as authenticate → (audit) → authorize, so the
// audit log knows who called and sees refusals: ServerOptions does that.
type Guard struct {
	Authn *Authenticator
	Authz *Authorizer
}

// ServerOptions chains Guard's interceptors around the given middle ones
// (the audit log's): authenticate, middle…, authorize.
func (g *Guard) ServerOptions(unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) []grpc.ServerOption {
	u := append(append([]grpc.UnaryServerInterceptor{g.UnaryAuthenticate}, unary...), g.UnaryAuthorize)
	s := append(append([]grpc.StreamServerInterceptor{g.StreamAuthenticate}, stream...), g.StreamAuthorize)
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(u...), grpc.ChainStreamInterceptor(s...)}
}

// UnaryAuthenticate puts the caller's identity into the context, or fails
// the call with Unauthenticated.
func (g *Guard) UnaryAuthenticate(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id, err := g.Authn.Authenticate(ctx)
	if err != nil {
		return nil, err
	}
	return handler(NewContext(ctx, id), req)
}

// UnaryAuthorize refuses the call unless the identity may make it.
func (g *Guard) UnaryAuthorize(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id, ok := FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, NoCredentialMessage)
	}
	if err := g.Authz.Authorize(ctx, id, info.FullMethod, req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// StreamAuthenticate is UnaryAuthenticate for streams.
func (g *Guard) StreamAuthenticate(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	id, err := g.Authn.Authenticate(ss.Context())
	if err != nil {
		return err
	}
	return handler(srv, &contextStream{ServerStream: ss, ctx: NewContext(ss.Context(), id)})
}

// StreamAuthorize checks a stream on its first message, since the request
// (a Watch's kind, say) arrives only then. A handler that sends before it
// receives is checked on the method alone, which refuses any rule that
// needs the request.
func (g *Guard) StreamAuthorize(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	id, ok := FromContext(ss.Context())
	if !ok {
		return status.Error(codes.Unauthenticated, NoCredentialMessage)
	}
	return handler(srv, &authorizedStream{ServerStream: ss, check: func(req any) error {
		return g.Authz.Authorize(ss.Context(), id, info.FullMethod, req)
	}})
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// authorizedStream runs check once, before the first message in or out
// reaches the handler or the client.
type authorizedStream struct {
	grpc.ServerStream
	check func(req any) error
	once  sync.Once
	err   error
}

func (s *authorizedStream) RecvMsg(m any) error {
	decided := false
	s.once.Do(func() {
		decided = true
		if err := s.ServerStream.RecvMsg(m); err != nil {
			s.err = err
			return
		}
		s.err = s.check(m)
	})
	if decided || s.err != nil {
		return s.err
	}
	return s.ServerStream.RecvMsg(m)
}

func (s *authorizedStream) SendMsg(m any) error {
	s.once.Do(func() { s.err = s.check(nil) })
	if s.err != nil {
		return s.err
	}
	return s.ServerStream.SendMsg(m)
}
