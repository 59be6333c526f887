// Package panictest registers a gRPC service whose calls panic, so tests
// can check that a server survives them. It is for tests only.
package panictest

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Service is the full name of the panicking service.
const Service = "skiff.test.Panicker"

// Unary and Stream are the full method names to call.
const (
	Unary  = "/" + Service + "/Unary"
	Stream = "/" + Service + "/Stream"
)

// Register adds the service to s: Unary panics once it has decoded its
// request; Stream panics after its first message in.
func Register(s *grpc.Server) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: Service,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Unary",
			Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
				in := &emptypb.Empty{}
				if err := dec(in); err != nil {
					return nil, err
				}
				h := func(context.Context, any) (any, error) { panic("panictest: unary handler") }
				if icpt == nil {
					return h(ctx, in)
				}
				return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: Unary}, h)
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName:    "Stream",
			ServerStreams: true,
			ClientStreams: true,
			Handler: func(srv any, ss grpc.ServerStream) error {
				if err := ss.RecvMsg(&emptypb.Empty{}); err != nil && err != io.EOF {
					return err
				}
				panic("panictest: stream handler")
			},
		}},
	}, struct{}{})
}

// CallUnary calls Unary on conn.
func CallUnary(ctx context.Context, conn grpc.ClientConnInterface) error {
	return conn.Invoke(ctx, Unary, &emptypb.Empty{}, &emptypb.Empty{})
}

// CallStream opens Stream on conn, sends one message and returns what the
// server ended the stream with.
func CallStream(ctx context.Context, conn grpc.ClientConnInterface) error {
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, Stream)
	if err != nil {
		return err
	}
	if err := cs.SendMsg(&emptypb.Empty{}); err != nil && err != io.EOF {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	return cs.RecvMsg(&emptypb.Empty{})
}

// Serve runs a gRPC server with opts on a loopback port until the test
// ends, with the panicking service and whatever register adds, and returns
// a connection to it.
func Serve(t testing.TB, opts []grpc.ServerOption, register ...func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	gs := grpc.NewServer(opts...)
	Register(gs)
	for _, r := range register {
		r(gs)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Counter reads an unlabelled counter as a scrape would; a counter that
// is missing fails the test.
func Counter(t testing.TB, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
