package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
)

// Server is the cluster DNS server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	backend Backend
	zone    *zone
	handler handler
	fwdWG   sync.WaitGroup
	tcp     tcpConns

	ready chan struct{}
	addr  netip.AddrPort // set before ready closes
}

// New checks cfg and builds a server; nothing listens or watches before Run.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: m, ready: make(chan struct{})}
	s.tcp.conns = map[net.Conn]struct{}{}
	s.backend = cfg.Backend
	if s.backend == nil {
		set := client.SharedOrOwn(cfg.Informers, cfg.Client, cfg.Logger)
		if s.backend, err = newAPIBackend(set, cfg.Logger); err != nil {
			return nil, err
		}
	}
	s.zone, err = newZone(cfg.Domain, cfg.TTL, s.backend, cfg.Logger, m.stale.Inc)
	if err != nil {
		if b, ok := s.backend.(*apiBackend); ok {
			b.scope.Close() // its informers are the process's
		}
		return nil, fmt.Errorf("dnsserver: %w", err)
	}
	s.handler = s.buildChain()
	return s, nil
}

// buildChain is the one place that orders the handlers.
func (s *Server) buildChain() handler {
	fwd := &forwarder{
		upstreams: s.cfg.Upstreams, timeout: s.cfg.ForwardTimeout,
		inflight: make(chan struct{}, maxInflightForwards), wg: &s.fwdWG, m: s.metrics, log: s.log,
	}
	cache := newAnswerCache(s.cfg.CacheSize, cacheMaxTTL)
	return chain(
		func(next handler) handler { return &metricsHandler{m: s.metrics, next: next} },
		func(next handler) handler { return &guard{next: next} },
		func(next handler) handler { return &anyHandler{next: next} },
		func(next handler) handler { return &clusterHandler{z: s.zone, next: next} },
		func(next handler) handler { return &cacheHandler{c: cache, m: s.metrics, next: next} },
		func(handler) handler { return fwd },
	)
}

// Ready is closed once the caches have synced, the zone is built and both
// sockets listen. It never closes if Run fails first.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the bound address (UDP and TCP share it); valid once Ready is
// closed.
func (s *Server) Addr() string {
	select {
	case <-s.ready:
		return s.addr.String()
	default:
		return ""
	}
}

// Run watches the cluster, then serves until ctx ends. It returns nil on a
// clean stop.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	synced := make(chan struct{})
	var once sync.Once
	g.Go(func() error {
		err := s.backend.Run(ctx, s.zone, func() { once.Do(func() { close(synced) }) })
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("dnsserver: backend: %w", err)
		}
		return nil
	})
	select {
	case <-synced:
	case <-ctx.Done():
		cancel()
		return g.Wait()
	}
	s.zone.buildAll()

	udp, tcp, err := listen(s.cfg.Listen)
	if err != nil {
		cancel()
		_ = g.Wait()
		return err
	}
	s.addr = udp.LocalAddr().(*net.UDPAddr).AddrPort()
	s.log.Info("cluster DNS serving", "addr", s.addr, "domain", s.cfg.Domain, "upstreams", s.cfg.Upstreams)
	close(s.ready)

	for range s.cfg.UDPWorkers {
		g.Go(func() error { return s.serveUDP(ctx, udp) })
	}
	g.Go(func() error { return s.serveTCP(ctx, tcp) })
	g.Go(func() error {
		<-ctx.Done()
		_ = udp.Close()
		_ = tcp.Close()
		s.closeTCPConns()
		return nil
	})
	err = g.Wait()
	s.fwdWG.Wait()
	return err
}

// listen binds UDP and TCP on the same address; with port 0 it retries
// until one free port works for both.
func listen(addr string) (*net.UDPConn, *net.TCPListener, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dnsserver: listen %s: %w", addr, err)
	}
	for try := 0; ; try++ {
		udp, err := net.ListenUDP("udp", ua)
		if err != nil {
			return nil, nil, fmt.Errorf("dnsserver: listen udp %s: %w", addr, err)
		}
		bound := udp.LocalAddr().(*net.UDPAddr)
		tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: bound.IP, Port: bound.Port, Zone: bound.Zone})
		if err == nil {
			// Room for bursts: a full receive buffer drops queries
			// silently, and clients then wait out their timeout.
			_ = udp.SetReadBuffer(4 << 20)
			_ = udp.SetWriteBuffer(4 << 20)
			return udp, tcp, nil
		}
		_ = udp.Close()
		if ua.Port != 0 || try >= 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("dnsserver: listen tcp %s: %w", bound, err)
		}
	}
}
