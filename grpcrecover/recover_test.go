package grpcrecover_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/grpcrecover"
	"github.com/skiff-sh/skiff/grpcrecover/panictest"
)

// syncBuffer is a log sink the server's goroutines may write concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPanicsBecomeInternalAndTheServerKeepsServing(t *testing.T) {
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	panics := grpcrecover.NewCounter(reg, "test_panics_total", "Panics.")
	r := grpcrecover.New(slog.New(slog.NewTextHandler(&logs, nil)), panics)
	conn := panictest.Serve(t, r.ServerOptions(), func(gs *grpc.Server) { healthpb.RegisterHealthServer(gs, health.NewServer()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for i, call := range []struct {
		name   string
		method string
		do     func(context.Context, grpc.ClientConnInterface) error
	}{
		{"unary", panictest.Unary, panictest.CallUnary},
		{"stream", panictest.Stream, panictest.CallStream},
		{"unary again", panictest.Unary, panictest.CallUnary},
	} {
		err := call.do(ctx, conn)
		if status.Code(err) != codes.Internal {
			t.Fatalf("%s: got %v, want Internal", call.name, err)
		}
		if strings.Contains(status.Convert(err).Message(), "panictest") {
			t.Errorf("%s: the panic value reached the client: %v", call.name, err)
		}
		if got := panictest.Counter(t, reg, "test_panics_total"); got != float64(i+1) {
			t.Errorf("%s: panic counter = %v, want %d", call.name, got, i+1)
		}
		if !strings.Contains(logs.String(), "method="+call.method) {
			t.Errorf("%s: no log line names the method; logs:\n%s", call.name, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "panictest.Register") {
		t.Errorf("the log line has no stack naming the handler; logs:\n%s", logs.String())
	}
	// Still serving.
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health after panics: %v %v", resp, err)
	}
}
