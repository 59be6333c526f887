package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Config is what a node's proxy needs.
type Config struct {
	Client *client.Client
	// Services, when set, is an informer of every Service the caller
	// runs (and shares); else the proxy follows them itself.
	Services *client.Informer[*skiffv1.Service]
	// Node is the node the proxy runs on (its name picks the endpoints of
	// the Local traffic policies).
	Node Node
	// HostNetNS is the path of the node's network namespace; empty: the
	// caller's own.
	HostNetNS string
	Logger    *slog.Logger
	// OnSync, when set, is told how long each table rewrite took (for
	// metrics and benchmarks).
	OnSync func(ports int, took time.Duration)
}

// Run follows Services and Endpoints and keeps the node's table equal to
// them until ctx ends, then removes the table.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	svcs := cfg.Services
	ownServices := svcs == nil
	if ownServices {
		svcs = client.NewInformer(cfg.Client.Services(), client.ListOptions{}, log)
	}
	eps := client.NewInformer(cfg.Client.Endpoints(), client.ListOptions{}, log)
	kick := make(chan struct{}, 1)
	notify := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	removeHandler := svcs.AddHandler(client.Handler[*skiffv1.Service]{
		OnAdd: func(*skiffv1.Service) { notify() }, OnUpdate: func(_, _ *skiffv1.Service) { notify() }, OnDelete: func(*skiffv1.Service) { notify() },
	})
	defer removeHandler()
	eps.AddHandler(client.Handler[*skiffv1.Endpoints]{
		OnAdd: func(*skiffv1.Endpoints) { notify() }, OnUpdate: func(_, _ *skiffv1.Endpoints) { notify() }, OnDelete: func(*skiffv1.Endpoints) { notify() },
	})
	done := make(chan struct{}, 2)
	running := 1
	if ownServices {
		running++
		go func() { svcs.Run(ctx); done <- struct{}{} }()
	}
	go func() { eps.Run(ctx); done <- struct{}{} }()
	defer func() {
		for range running {
			<-done
		}
	}()
	if !svcs.WaitForSync(ctx) || !eps.WaitForSync(ctx) {
		return nil
	}
	defer func() {
		if err := withConn(cfg.HostNetNS, Remove); err != nil {
			log.Warn("removing the proxy table", "err", err)
		}
	}()
	var last []ServicePort
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
		case <-retry.C:
		}
		want := Desired(svcs.List(), eps.Get, cfg.Node)
		if last != nil && slices.EqualFunc(want, last, ServicePort.equal) {
			continue // e.g. a not-ready endpoint came or went
		}
		start := time.Now()
		err := withConn(cfg.HostNetNS, func(c *nftables.Conn) error {
			if _, err := Update(c, last, want); err != nil {
				// The table may have been changed by hand: write it whole.
				return Program(c, want)
			}
			return nil
		})
		if err != nil {
			log.Warn("programming service rules; retrying", "err", err)
			last = nil
			retry.Reset(time.Second)
			continue
		}
		// After the rules: a flow cleared now is translated by the new ones.
		if n, err := clearStaleUDP(cfg.HostNetNS, last, want); err != nil {
			log.Warn("clearing UDP flows to gone endpoints", "err", err)
		} else if n > 0 {
			log.Debug("cleared UDP flows to gone endpoints", "entries", n)
		}
		if cfg.OnSync != nil {
			cfg.OnSync(len(want), time.Since(start))
		}
		log.Debug("service rules programmed", "ports", len(want), "took", time.Since(start))
		last = want
	}
}

// bigBuffers lets one transaction hold thousands of services: the kernel
// acknowledges each message of the batch, and the default receive buffer
// overflows (ENOBUFS) at a few hundred. The agent is root, so the limits
// of net.core.rmem_max do not apply (SO_RCVBUFFORCE).
func bigBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = errors.Join(
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer))
	})
	return errors.Join(err, serr)
}

// socketBuffer is the netlink socket's buffer size in bytes.
const socketBuffer = 256 << 20

// withConn runs fn with an nftables connection in the namespace at path
// (empty: the caller's own), moving no thread there.
func withConn(path string, fn func(*nftables.Conn) error) error {
	opts := []nftables.ConnOption{nftables.WithSockOptions(bigBuffers)}
	if path != "" {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("proxy: network namespace %s: %w", path, &os.PathError{Op: "open", Path: path, Err: err})
		}
		defer unix.Close(fd)
		opts = append(opts, nftables.WithNetNSFd(fd))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("proxy: nftables: %w", err)
	}
	return fn(c)
}

// RemoveIfPresent deletes the proxy table in the namespace at path (empty:
// the caller's own) and says whether there was one, for teardown.
func RemoveIfPresent(path string) (bool, error) {
	found := false
	err := withConn(path, func(c *nftables.Conn) error {
		tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return fmt.Errorf("proxy: list nftables tables: %w", err)
		}
		for _, t := range tables {
			found = found || t.Name == Table
		}
		if !found {
			return nil
		}
		return Remove(c)
	})
	return found, err
}

// NewConn opens an nftables connection in the network namespace of fd,
// with buffers for large transactions (for benchmarks and tools).
func NewConn(netnsFd int) (*nftables.Conn, error) {
	return nftables.New(nftables.WithSockOptions(bigBuffers), nftables.WithNetNSFd(netnsFd))
}
