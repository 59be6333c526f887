// Package apitest starts a real API server — embedded etcd in a temporary
// directory, gRPC on a loopback port — for tests of the components that talk
// to it. It is for tests only.
package apitest

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/client"
)

// Server is a running API server and a client connected to it.
type Server struct {
	*apiserver.Server
	Addr          string
	Client        *client.Client
	EtcdEndpoints []string
	Registry      *prometheus.Registry
	DataDir       string
}

// Start runs an API server until the test ends. configure, when given,
// adjusts the configuration first.
func Start(t testing.TB, configure ...func(*apiserver.Config)) *Server {
	t.Helper()
	return startWith(t, client.Options{}, configure...)
}

// startWith starts the server; its Client uses clientOpts.
func startWith(t testing.TB, clientOpts client.Options, configure ...func(*apiserver.Config)) *Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	cfg := apiserver.Config{
		DataDir:       dir,
		Listen:        "127.0.0.1:0",
		EtcdListen:    "127.0.0.1:0",
		UnsafeNoFsync: true,
		Registerer:    reg,
		Logger:        testLogger(),
	}
	for _, c := range configure {
		c(&cfg)
	}
	srv, err := apiserver.New(cfg)
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("apitest: server stopped before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("apitest: server not ready after 60s")
	}
	c, err := client.New(srv.Addr(), clientOpts)
	if err != nil {
		cancel()
		t.Fatalf("apitest: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("apitest: server stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("apitest: server did not stop within 30s")
		}
	})
	return &Server{Server: srv, Addr: srv.Addr(), Client: c, EtcdEndpoints: srv.EtcdEndpoints(), Registry: reg, DataDir: dir}
}

// testLogger is quiet unless SKIFF_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SKIFF_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
