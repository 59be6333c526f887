package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/skiff-sh/skiff/apiserver/listwire"
	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/apiserver/watchcache"
	"github.com/skiff-sh/skiff/grpcrecover"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Server is the API server. Make it with New, then Run it.
type Server struct {
	skiffv1.UnimplementedObjectsServer

	cfg     Config
	log     *slog.Logger
	lis     net.Listener
	metrics *serverMetrics

	store      *storage.Store
	watches    *watchcache.Cache // nil with DisableWatchCache
	etcd       *etcdBackend
	cidrs      *cidrAllocator
	services   *serviceAllocator
	nsWake     chan struct{}
	namespaces namespaceCache
	podsByNode podIndex
	stopping   chan struct{} // closed when Run begins to stop: ends watches
	// recoverer turns a handler's panic into an Internal error, for gRPC
	// calls and in-process reads alike.
	recoverer *grpcrecover.Recoverer

	readyOnce sync.Once
	ready     chan struct{}
}

// New checks the configuration and binds the listen address, so Addr is
// known before Run.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	cidrs, err := newCIDRAllocator(cfg.ClusterCIDR, cfg.NodeCIDRBits)
	if err != nil {
		return nil, err
	}
	services, err := newServiceAllocator(cfg.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("apiserver: listen on %s: %w", cfg.Listen, err)
	}
	metrics := newServerMetrics(cfg.Registerer)
	return &Server{
		cfg: cfg, log: cfg.Logger, lis: lis,
		metrics:   metrics,
		recoverer: grpcrecover.New(cfg.Logger, metrics.panics),
		cidrs:     cidrs,
		services:  services,
		nsWake:    make(chan struct{}, 1),
		stopping:  make(chan struct{}),
		ready:     make(chan struct{}),
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Ready is closed once the server answers requests.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// EtcdEndpoints are the etcd client URLs in use (the embedded one's once
// Ready), for components that elect a leader in etcd.
func (s *Server) EtcdEndpoints() []string {
	if s.etcd == nil {
		return s.cfg.EtcdEndpoints
	}
	return s.etcd.Endpoints
}

// Run serves until ctx ends, then stops cleanly: watches end, requests in
// flight finish, etcd closes.
func (s *Server) Run(ctx context.Context) error {
	defer s.lis.Close()
	b, err := startEtcd(ctx, &s.cfg)
	if err != nil {
		return err
	}
	defer b.close()
	s.etcd = b
	keys, err := loadSecretKeys(s.cfg.SecretKeyFile, s.cfg.RotateSecretKey)
	if err != nil {
		return err
	}
	s.store = storage.New(b.client, storage.Options{
		Metrics:      storage.NewMetrics(s.cfg.Registerer),
		SingleMember: b.embedded != nil && !b.clustered,
		Sealer:       keys,
	})
	if n, err := s.store.ReencryptSecrets(ctx); err != nil {
		return err
	} else if n > 0 {
		s.log.Info("re-encrypted Secrets under the newest key", "count", n, "key", keys.PrimaryID())
	}
	if !s.cfg.DisableWatchCache {
		s.watches = watchcache.New(watchcache.Config{Source: s.store, Capacity: s.cfg.WatchCacheSize, WatcherQueue: s.cfg.WatchCacheQueue, Registerer: s.cfg.Registerer})
	}
	s.metrics.registerObjectCounts(s.cfg.Registerer, s.store)
	if err := s.ensureNamespaces(ctx); err != nil {
		return err
	}
	if err := s.cidrs.load(ctx, s.store); err != nil {
		return err
	}
	if err := s.services.load(ctx, s.store); err != nil {
		return err
	}

	// Metrics outermost, so they count a recovered panic as Internal; the
	// recoverer next, so a panic anywhere inside (authentication, audit,
	// handlers) fails that call alone instead of the whole server.
	rec := s.recoverer
	opts := append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.metrics.unary, rec.Unary),
		grpc.ChainStreamInterceptor(s.metrics.stream, rec.Stream),
		grpc.MaxRecvMsgSize(4 << 20),
		// Writes the lists read from the watch cache from their bytes.
		grpc.ForceServerCodecV2(listwire.NewCodec()),
		// Clients ping every 10 s (client.Keepalive) to find a server
		// cut off; grpc's default policy (5 min) answers that with GOAWAY.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	}, s.cfg.GRPCOptions...)
	if s.cfg.ServerOptions != nil {
		opts = append(opts, s.cfg.ServerOptions(s)...)
	}
	gs := grpc.NewServer(opts...)
	gs.RegisterService(objectsService(), s)
	podio := newPodIOProxy(s)
	defer podio.close()
	skiffv1.RegisterPodIOServer(gs, podio)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	if j := s.cfg.Join; j != nil {
		NewJoinService(j.CA, j.Tokens, j.Nodes, s.ListNodes).Register(gs)
	}
	if s.cfg.RegisterServices != nil {
		s.cfg.RegisterServices(gs)
	}

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if s.watches != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.watches.Run(bg) }()
	}
	wg.Add(4)
	go func() { defer wg.Done(); s.namespaces.run(bg, s.store) }()
	go func() { defer wg.Done(); s.podsByNode.run(bg, s.podFeed()) }()
	go func() { defer wg.Done(); s.store.RunCompactor(bg, s.cfg.CompactInterval, s.cfg.HistoryKept, s.log) }()
	go func() { defer wg.Done(); s.runNamespaceFinalizer(bg) }()

	serveErr := make(chan error, 1)
	go func() { serveErr <- gs.Serve(s.lis) }()
	s.readyOnce.Do(func() { close(s.ready) })
	s.log.Info("API server ready", "addr", s.Addr(), "etcd", b.Endpoints)

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	hs.Shutdown()
	close(s.stopping)
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		gs.Stop()
	}
	stopBG()
	wg.Wait()
	if errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	s.log.Info("API server stopped")
	return err
}

// Compact drops the etcd history before rev; the compactor does this on its
// own, tests call it to provoke OutOfRange.
func (s *Server) Compact(ctx context.Context, rev int64) error { return s.store.Compact(ctx, rev) }
