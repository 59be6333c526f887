package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-sh/skiff/ports"
)

// Config configures a Registry.
type Config struct {
	DataDir string       // required; created if missing
	Logger  *slog.Logger // nil: discard
	// Auth decides who may pull and push; nil lets everyone do anything
	// (a plain-text test registry).
	Auth Authorizer
	// GCDelay is how old an unreferenced blob or untagged manifest must be
	// before garbage collection removes it; 0 means DefaultGCDelay.
	GCDelay time.Duration
}

// Registry is an OCI distribution registry backed by a directory. It is
// an http.Handler to be served at the site root.
type Registry struct {
	dataDir string
	log     *slog.Logger
	blobs   *diskBlobs
	uploads *uploads
	inner   http.Handler
	writeMu sync.Mutex // orders manifest writes in memory and on disk
	auth    Authorizer
	gcDelay time.Duration
}

// New opens the registry's data dir and loads what an earlier run stored.
func New(cfg Config) (*Registry, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("registry: Config.DataDir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &diskBlobs{dir: filepath.Join(cfg.DataDir, "blobs"), tmp: filepath.Join(cfg.DataDir, "tmp")}
	if err := os.RemoveAll(b.tmp); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	up := &uploads{dir: filepath.Join(b.tmp, "uploads"), blobs: b}
	// Owner only: the images may hold secrets, and the registry's own
	// authorization is the only way in.
	for _, d := range []string{cfg.DataDir, filepath.Join(b.dir, "sha256"), up.dir, filepath.Join(cfg.DataDir, "manifests")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
	}
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	r := &Registry{
		dataDir: cfg.DataDir,
		log:     cfg.Logger,
		auth:    cfg.Auth,
		gcDelay: cfg.GCDelay,
		blobs:   b,
		uploads: up,
		inner: ggcr.New(
			ggcr.WithBlobHandler(b),
			ggcr.Logger(slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)),
		),
	}
	if r.gcDelay <= 0 {
		r.gcDelay = DefaultGCDelay
	}
	if err := r.replay(); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	return r, nil
}

// ServeHTTP serves the distribution API; manifest writes are persisted
// and chunked uploads go to disk.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	access, ok := r.authorize(w, req)
	if !ok {
		return
	}
	if _, h, ok := blobPath(req.URL.Path); ok {
		switch {
		case req.Method == http.MethodDelete:
			// One blob serves many images: it goes when no manifest
			// references it (CollectGarbage), never on request.
			writeError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "blobs are garbage-collected once no manifest references them; delete the manifest or tag instead")
			return
		case req.Method == http.MethodHead && access == Push:
			r.blobs.touch(h) // a push checking for a blob it will reference
		}
	}
	if req.Method == http.MethodPost && access == Push {
		if h, err := v1.NewHash(req.URL.Query().Get("mount")); err == nil {
			r.blobs.touch(h)
		}
	}
	if r.uploads.serve(w, req) {
		return
	}
	if req.Method == http.MethodPut || req.Method == http.MethodDelete {
		if repo, target, ok := manifestPath(req.URL.Path); ok {
			if r.writeManifest(w, req, repo, target) && req.Method == http.MethodDelete {
				if _, err := r.CollectGarbage(); err != nil {
					r.log.Warn("registry: garbage collection", "err", err)
				}
			}
			return
		}
	}
	r.inner.ServeHTTP(w, req)
}

// Run listens on addr (":5000", ports.Registry, when empty) and serves
// until ctx ends.
func (r *Registry) Run(ctx context.Context, addr string) error {
	if addr == "" {
		addr = fmt.Sprintf(":%d", ports.Registry)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return r.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down, letting requests in
// flight finish for a few seconds. It closes ln.
func (r *Registry) Serve(ctx context.Context, ln net.Listener) error {
	idle := &freshConns{conns: map[net.Conn]bool{}}
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
		ConnState:         idle.track,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	r.log.Info("registry: serving", "addr", ln.Addr().String(), "dataDir", r.dataDir)
	go r.collectEvery(ctx, max(r.gcDelay, time.Minute))
	select {
	case err := <-errc:
		return fmt.Errorf("registry: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }()
	// Shutdown counts a connection that has not sent a request yet as
	// busy for 5 s; HTTP clients keep such spares around. Nothing is in
	// flight on them, so close them.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-shut:
			if err != nil {
				return fmt.Errorf("registry: shutdown: %w", err)
			}
			if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("registry: %w", err)
			}
			return nil
		case <-tick.C:
			idle.closeAll()
		}
	}
}

// collectEvery collects garbage every interval until ctx ends: what a
// delete left young enough to keep goes once it is old enough.
func (r *Registry) collectEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := r.CollectGarbage(); err != nil {
				r.log.Warn("registry: garbage collection", "err", err)
			}
		}
	}
}

// freshConns tracks connections that have not started a request.
type freshConns struct {
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st == http.StateNew {
		f.conns[c] = true
	} else {
		delete(f.conns, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Close()
		delete(f.conns, c)
	}
}
