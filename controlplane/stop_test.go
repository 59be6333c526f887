package controlplane

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// lockedBuffer is a log sink the server's goroutines share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A server stopping lets its scheduler and controllers resign their
// leadership before its etcd goes: they step down cleanly, and no resign
// fails against an etcd already stopped (the lease would then linger for
// its TTL, and a standby server wait for it).
func TestStopResignsBeforeEtcdStops(t *testing.T) {
	dir := t.TempDir()
	var logs lockedBuffer
	cfg := Config{
		DataDir: filepath.Join(dir, "server"), Listen: "127.0.0.1:0", EtcdListen: "127.0.0.1:0",
		ClusterCIDR: "10.88.0.0/16", ClusterDomain: "cluster.local", Metrics: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	cp, err := Start(gctx, g, cfg)
	if err != nil || cp == nil {
		cancel()
		g.Wait()
		t.Fatalf("start: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), "became leader") < 2 {
		if time.Now().After(deadline) {
			cancel()
			g.Wait()
			t.Fatalf("the scheduler and the controllers did not both lead:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		t.Fatalf("stop: %v", err)
	}
	out := logs.String()
	if strings.Contains(out, "resign failed") {
		t.Errorf("a component failed to resign at stop:\n%s", out)
	}
	for _, name := range []string{"election=scheduler", "election=controller"} {
		if !hasLine(out, name, "stepped down") {
			t.Errorf("no %q line saying it stepped down:\n%s", name, out)
		}
	}
}

// hasLine reports whether one line of out holds both a and b.
func hasLine(out, a, b string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, a) && strings.Contains(l, b) {
			return true
		}
	}
	return false
}
