package controller

import (
	"context"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
)

// Manager runs every controller over one set of informers.
type Manager struct {
	cfg Config
	log *slog.Logger
	m   *metrics
}

// New checks cfg and registers the metrics. Nothing runs until Run.
func New(cfg Config) (*Manager, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, log: cfg.Logger, m: m}, nil
}

// Run runs the controllers until ctx ends, then returns nil after the
// workers have finished the keys they hold. Each Run starts from fresh
// caches and queues, so a Manager may be run again after it returned (a
// new leadership term).
func (mg *Manager) Run(ctx context.Context) error {
	cfg := &mg.cfg
	set := client.SharedOrOwn(cfg.Informers, cfg.Client, mg.log)
	// Closing the scope (after the workers finished) removes the
	// handlers and indexes; informers no other component holds stop.
	scope := set.NewScope()
	defer scope.Close()
	inf, err := newInformers(scope)
	if err != nil {
		return err
	}
	rec := &recorder{c: cfg.Client, source: cfg.Name, log: mg.log}
	rs := newReplicaSets(cfg, inf, mg.m, rec)
	rcc := newReplicationControllers(cfg, inf, mg.m, rec)
	gc := newGarbageCollector(cfg, inf, mg.m)
	nl := newNodeLifecycle(cfg, inf, mg.m, rec)
	as := newAutoscalers(cfg, inf, mg.m, rec)
	dp := newDeployments(cfg, inf, mg.m, rec)
	ep := newEndpoints(cfg, inf, mg.m)
	jc := newJobs(cfg, inf, mg.m, rec)
	cj := newCronJobs(cfg, inf, mg.m, rec)
	dsc := newDaemonSets(cfg, inf, mg.m, rec)
	ssc := newStatefulSets(cfg, inf, mg.m, rec)
	pvb := newVolumeBinder(cfg, inf, mg.m, rec)
	slb := newServiceLB(cfg, inf, mg.m, rec)

	// Handlers added to informers already running are told of every
	// object they hold, as the first list would.
	scope.Start()
	g, ctx := errgroup.WithContext(ctx)
	if !inf.waitForSync(ctx) {
		return nil
	}
	mg.log.Info("controllers started", "workers", cfg.Workers)
	for _, r := range []*reconciler{rs.r, rcc.r, gc.r, nl.r, as.r, dp.r, ep.r, jc.r, cj.r, dsc.r, ssc.r, pvb.r, slb.r} {
		g.Go(func() error { r.run(ctx); return nil })
	}
	g.Go(func() error { nl.monitor(ctx); return nil })
	g.Go(func() error { as.resync(ctx); return nil })
	g.Go(func() error { pvb.resync(ctx); return nil })
	err = g.Wait()
	mg.log.Info("controllers stopped")
	return err
}
