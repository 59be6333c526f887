package nodeagent

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/grpcrecover/panictest"
)

// TestAgentEndpointSurvivesPanics serves the agent's gRPC options with a
// panicking service: calls fail with Internal, skiff_agent_panics_total
// counts them, and the endpoint keeps answering.
func TestAgentEndpointSurvivesPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := &Agent{log: slog.New(slog.DiscardHandler), metrics: newMetrics(reg)}
	conn := panictest.Serve(t, a.serverOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, call := range []func(context.Context, grpc.ClientConnInterface) error{panictest.CallStream, panictest.CallUnary, panictest.CallStream} {
		if err := call(ctx, conn); status.Code(err) != codes.Internal {
			t.Fatalf("call %d: got %v, want Internal", i, err)
		}
	}
	if got := panictest.Counter(t, reg, "skiff_agent_panics_total"); got != 3 {
		t.Errorf("skiff_agent_panics_total = %v, want 3", got)
	}
}
