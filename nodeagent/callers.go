package nodeagent

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/grpcrecover"
	"github.com/skiff-sh/skiff/pki"
)

// allowedCaller says who may use an agent's endpoint (logs, exec): the
// API server, which proxies for users, and admins. Other nodes may not.
func allowedCaller(cn string) bool { return cn == pki.APIServer || cn == pki.Admin }

// checkCaller refuses callers whose verified client certificate is not one
// of allowedCallers. The TLS layer has already verified the chain.
func checkCaller(ctx context.Context) error {
	p, ok := grpcpeer.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "no peer")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 {
		return status.Error(codes.Unauthenticated, "the agent takes calls from the API server only, over mutual TLS")
	}
	cn := ti.State.VerifiedChains[0][0].Subject.CommonName
	if !allowedCaller(cn) {
		return status.Errorf(codes.PermissionDenied, "%s may not call the agent: only the API server and admins may", cn)
	}
	return nil
}

func callerUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := checkCaller(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func callerStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := checkCaller(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}

// serverOptions are the agent endpoint's: a recoverer, so a panic fails
// one logs or exec call instead of the agent, and mutual TLS and the caller
// check when the cluster uses TLS, plain text otherwise.
func (a *Agent) serverOptions() []grpc.ServerOption {
	opts := grpcrecover.New(a.log, a.metrics.panics).ServerOptions()
	if a.cfg.ServerTLS == nil {
		return opts
	}
	return append(opts,
		grpc.Creds(credentials.NewTLS(a.cfg.ServerTLS)),
		grpc.ChainUnaryInterceptor(callerUnary),
		grpc.ChainStreamInterceptor(callerStream),
	)
}
