package nodeagent

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/grpcrecover/panictest"
)

// TestAgentEndpointSurvivesPanics serves the agent's gRPC options with a
// panicking service: calls fail with Internal, skiff_agent_panics_total
// counts them, and the endpoint keeps answering.
func TestAgentEndpointSurvivesPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := &Agent{log: slog.New(slog.DiscardHandler), metrics: newMetrics(reg)}
	gs := grpc.NewServer(a.serverOptions()...)
	panictest.Register(gs)
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, call := range []func(context.Context, grpc.ClientConnInterface) error{panictest.CallStream, panictest.CallUnary, panictest.CallStream} {
		if err := call(ctx, conn); status.Code(err) != codes.Internal {
			t.Fatalf("call %d: got %v, want Internal", i, err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := -1.0
	for _, f := range families {
		if f.GetName() == "skiff_agent_panics_total" {
			got = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if got != 3 {
		t.Errorf("skiff_agent_panics_total = %v, want 3", got)
	}
}
