package controlplane

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	"github.com/skiff-sh/skiff/dnsserver"
	"github.com/skiff-sh/skiff/leader"
	"github.com/skiff-sh/skiff/pki"
	"github.com/skiff-sh/skiff/scheduler"
)

// startControllers runs the scheduler and the controllers, each with a
// client of its own identity.
func (cp *ControlPlane) startControllers(ctx context.Context, g *errgroup.Group) error {
	log := cp.cfg.Logger
	err := cp.runElected(ctx, g, "scheduler", pki.Scheduler, func(c *client.Client) (func(context.Context) error, error) {
		s, err := scheduler.New(scheduler.Config{Client: c, Logger: log.With("component", "scheduler"), Metrics: cp.cfg.Metrics, Informers: cp.informers})
		if err != nil {
			return nil, err
		}
		return s.Run, nil
	})
	if err != nil {
		return err
	}
	err = cp.runElected(ctx, g, "controller", pki.Controller, func(c *client.Client) (func(context.Context) error, error) {
		ccfg := cp.cfg.Controllers
		ccfg.Client, ccfg.Logger, ccfg.Metrics = c, log.With("component", "controller"), cp.cfg.Metrics
		ccfg.Informers = cp.informers
		m, err := controller.New(ccfg)
		if err != nil {
			return nil, err
		}
		return m.Run, nil
	})
	return err
}

// runElected makes a component with a client of identity id and runs it
// in g while this process leads the election name (so several servers can
// run, one of each leading).
func (cp *ControlPlane) runElected(ctx context.Context, g *errgroup.Group, name, id string, make func(*client.Client) (func(context.Context) error, error)) error {
	c, err := cp.Client(id)
	if err != nil {
		return err
	}
	run, err := make(c)
	if err != nil {
		c.Close()
		return err
	}
	cp.electedMu.Lock()
	defer cp.electedMu.Unlock()
	if cp.stopping {
		c.Close()
		return nil
	}
	cp.elected.Add(1)
	g.Go(func() error {
		defer cp.elected.Done()
		defer c.Close()
		return leader.Run(ctx, leader.Config{
			Endpoints: cp.etcdEndpoints, TLS: cp.etcdTLS, Name: name, Identity: leader.HostIdentity(),
			Logger: cp.cfg.Logger.With("component", name),
		}, run)
	})
	return nil
}

// StartDNS serves cluster DNS at listen, in g; it reads services and pods
// with the controllers' identity. ready, if set, is called once it
// answers.
func (cp *ControlPlane) StartDNS(ctx context.Context, g *errgroup.Group, listen string, ready func(addr string)) error {
	c, err := cp.Client(pki.Controller)
	if err != nil {
		return err
	}
	dns, err := dnsserver.New(dnsserver.Config{
		Client: c, Informers: cp.informers, Listen: listen, Domain: cp.cfg.ClusterDomain, Upstreams: cp.cfg.DNSUpstreams,
		Logger: cp.cfg.Logger.With("component", "dns"), Metrics: cp.cfg.Metrics,
	})
	if err != nil {
		c.Close()
		return err
	}
	g.Go(func() error { defer c.Close(); return dns.Run(ctx) })
	if ready != nil {
		g.Go(func() error {
			select {
			case <-dns.Ready():
				ready(dns.Addr())
			case <-ctx.Done():
			}
			return nil
		})
	}
	return nil
}
