package leader

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
)

// keyPrefix is where elections live in etcd, outside the /skiff/ object
// keys the API server owns.
const keyPrefix = "/skiff-leader/"

// Config configures an election.
type Config struct {
	// Endpoints of the etcd cluster the API server uses, and the TLS
	// configuration to reach it (nil: plain text, as the embedded etcd).
	Endpoints []string
	TLS       *tls.Config
	// Name of what is being led ("scheduler", "controllers"): candidates
	// with the same Name compete.
	Name string
	// Identity of this candidate, for logs and for who is leading (e.g.
	// hostname and pid).
	Identity string
	// TTL of the lease: how long a dead leader keeps the role at most.
	// Whole seconds; default 5s, at least 1s.
	TTL time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
	// DialTimeout bounds each attempt to reach etcd; default 5s.
	DialTimeout time.Duration
}

func (c *Config) validate() error {
	if len(c.Endpoints) == 0 {
		return errors.New("leader: Config.Endpoints: at least one etcd endpoint is required")
	}
	if c.Name == "" {
		return errors.New("leader: Config.Name is required")
	}
	if c.Identity == "" {
		return errors.New("leader: Config.Identity is required")
	}
	if c.TTL == 0 {
		c.TTL = 5 * time.Second
	}
	if c.TTL < time.Second {
		return fmt.Errorf("leader: Config.TTL %v: at least 1s (etcd leases count whole seconds)", c.TTL)
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// errLost means the lease ran out under a leader (etcd unreachable for
// longer than the TTL): campaign again.
var errLost = errors.New("leadership lost")

// Run campaigns for cfg.Name and runs fn while this candidate leads. fn's
// context ends when leadership is lost or ctx ends; fn must then return
// promptly. After a loss Run campaigns again. Run returns nil when ctx ends
// or fn returns nil, and fn's error when it fails; leadership is resigned on
// the way out so another candidate takes over at once.
func Run(ctx context.Context, cfg Config, fn func(ctx context.Context) error) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	log := cfg.Logger.With("election", cfg.Name, "identity", cfg.Identity)
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		TLS:         cfg.TLS,
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return fmt.Errorf("leader: etcd client: %w", err)
	}
	var closeOnce sync.Once
	closeClient := func() { closeOnce.Do(func() { cli.Close() }) }
	defer closeClient()
	// A campaign that ctx interrupts resigns with the client's own
	// context, which only Close ends: with etcd gone (a server shutting
	// down stops its embedded etcd first) that call would wait forever.
	// Give the resigns on the way out DialTimeout, then close the client.
	stopTimer := context.AfterFunc(ctx, func() { time.AfterFunc(cfg.DialTimeout, closeClient) })
	defer stopTimer()

	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		done, err := term(ctx, cli, cfg, log, fn)
		if done {
			return err
		}
		log.Warn("election interrupted; campaigning again", "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, cfg.TTL)
	}
	return nil
}

// term is one campaign and, if won, one reign. done reports whether Run
// should return (with err); otherwise err says why to campaign again.
func term(ctx context.Context, cli *clientv3.Client, cfg Config, log *slog.Logger, fn func(context.Context) error) (done bool, err error) {
	ttl := int(cfg.TTL / time.Second)
	gctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	lease, err := cli.Grant(gctx, int64(ttl))
	cancel()
	if err != nil {
		return ctx.Err() != nil, fmt.Errorf("grant lease: %w", err)
	}
	sess, err := concurrency.NewSession(cli, concurrency.WithLease(lease.ID), concurrency.WithTTL(ttl))
	if err != nil {
		return ctx.Err() != nil, fmt.Errorf("session: %w", err)
	}
	// Close revokes the lease: the key goes, and the next candidate's
	// campaign returns at once instead of after the TTL.
	defer sess.Close()

	// A campaign waits for the key ahead of ours to go; if our own lease
	// dies meanwhile, stop waiting.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-cctx.Done():
		}
	}()
	el := concurrency.NewElection(sess, keyPrefix+cfg.Name)
	log.Debug("campaigning")
	if err := el.Campaign(cctx, cfg.Identity); err != nil {
		if ctx.Err() != nil {
			return true, nil
		}
		return false, fmt.Errorf("campaign: %w", err)
	}
	log.Info("became leader")
	reignErr := fn(cctx)
	lost := ctx.Err() == nil && cctx.Err() != nil
	cancel()
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.DialTimeout)
	if err := el.Resign(rctx); err != nil && !lost {
		log.Warn("resign failed; the lease will expire", "err", err)
	}
	rcancel()
	switch {
	case ctx.Err() != nil:
		log.Info("stepped down", "reason", "stopping")
		return true, nil
	case lost:
		log.Warn("lost leadership")
		return false, errLost
	case reignErr != nil:
		return true, fmt.Errorf("leader: %s: %w", cfg.Name, reignErr)
	}
	log.Info("stepped down", "reason", "finished")
	return true, nil
}

// HostIdentity names this process among candidates: host name and PID.
func HostIdentity() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}
