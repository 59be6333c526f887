package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Scheduler binds pending pods to nodes. Make one with New; Run it, under
// leader election when several may run.
type Scheduler struct {
	cfg     Config
	log     *slog.Logger
	alg     *Algorithm
	metrics *metrics

	readyOnce sync.Once
	ready     chan struct{}
}

// New checks cfg and registers the metrics.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Scheduler{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "scheduler"),
		alg:     NewAlgorithm(AlgorithmOptions{PercentageOfNodesToScore: cfg.PercentageOfNodesToScore}),
		metrics: m,
		ready:   make(chan struct{}),
	}, nil
}

// Ready is closed once a Run has loaded its caches and begun scheduling.
func (s *Scheduler) Ready() <-chan struct{} { return s.ready }

// run is the state of one Run: it starts afresh every time, so a scheduler
// that lost and regained leadership trusts nothing it saw before.
type run struct {
	*Scheduler
	cache   *cache
	queue   *queue
	pods    *client.SharedInformer[*skiffv1.Pod]
	nodes   *client.SharedInformer[*skiffv1.Node]
	volumes *client.SharedInformer[*skiffv1.Volume]
	pvs     *client.SharedInformer[*skiffv1.PersistentVolume]
	// Namespaces' labels, for affinity terms' namespace selectors.
	namespaces *client.SharedInformer[*skiffv1.Namespace]
	cluster    cacheCluster

	binds    chan struct{} // semaphore of Bind calls in flight
	reports  chan struct{} // semaphore of status/event writes in flight
	inflight sync.WaitGroup

	reportMu sync.Mutex
	reported map[string]string // pod UID → message last written
}

// Run schedules until ctx ends, then waits for the Binds in flight and
// returns nil. It returns an error only when it cannot work at all.
func (s *Scheduler) Run(ctx context.Context) error {
	set := client.SharedOrOwn(s.cfg.Informers, s.cfg.Client, s.log)
	// Closing the scope (after the Binds in flight) removes the handlers;
	// informers no other component holds stop.
	scope := set.NewScope()
	defer scope.Close()
	all := client.ListOptions{}
	r := &run{
		Scheduler:  s,
		cache:      newCache(),
		queue:      newQueue(s.cfg.InitialBackoff, s.cfg.MaxBackoff, s.cfg.UnschedulableTimeout, time.Now),
		pods:       client.Inform(scope, (*client.Client).Pods, all),
		nodes:      client.Inform(scope, (*client.Client).Nodes, all),
		volumes:    client.Inform(scope, (*client.Client).Volumes, all),
		pvs:        client.Inform(scope, (*client.Client).PersistentVolumes, all),
		namespaces: client.Inform(scope, (*client.Client).Namespaces, all),
		binds:      make(chan struct{}, s.cfg.BindParallelism),
		reports:    make(chan struct{}, 8),
		reported:   map[string]string{},
	}
	r.queue.onLen = func(n int) { s.metrics.pending.Set(float64(n)) }
	// A scheduler that stopped (or lost leadership) holds no pending pods.
	defer s.metrics.pending.Set(0)
	r.cluster = cacheCluster{c: r.cache, volumes: r.volumes.Get, pvs: r.pvs.Get, namespaces: r.namespaces.Get}
	// Handlers added to informers already running are told of every
	// object they hold, as the first list would.
	r.addHandlers()
	scope.Start()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		// Deciding before every cache is loaded would overcommit nodes whose
		// pods are not known yet.
		for _, sync := range []<-chan struct{}{r.nodes.Synced(), r.pods.Synced(), r.volumes.Synced(), r.pvs.Synced(), r.namespaces.Synced()} {
			select {
			case <-sync:
			case <-gctx.Done():
				return nil
			}
		}
		s.log.Info("caches synced; scheduling", "nodes", len(r.nodes.List()), "pending", r.queue.len())
		s.readyOnce.Do(func() { close(s.ready) })
		r.loop(gctx)
		r.inflight.Wait()
		return nil
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("scheduler: %w", err)
	}
	return nil
}

func (r *run) loop(ctx context.Context) {
	for {
		qp, ok := r.queue.pop(ctx)
		if !ok {
			return
		}
		r.scheduleOne(ctx, qp)
	}
}

// scheduleOne makes one decision and, when a node fits, starts its Bind.
func (r *run) scheduleOne(ctx context.Context, qp *queuedPod) {
	pod := r.queue.latest(qp)
	if pod.GetSpec().GetNodeName() != "" || pod.GetMetadata().GetDeletionTimestamp() != nil {
		r.queue.done(qp)
		return
	}
	pi := NewPodInfo(pod)
	r.cache.mu.Lock()
	res, err := r.alg.Schedule(pi, r.cache.list, r.cluster)
	if err == nil {
		r.cache.assumeLocked(pi, res.Node)
	}
	r.cache.mu.Unlock()
	if err == nil {
		// The pod is counted now: one waiting for pods like it may fit.
		r.queue.moveWaitingForPods()
	}

	var fe *FitError
	switch {
	case errors.As(err, &fe):
		r.metrics.attempts.WithLabelValues(resultUnschedulable).Inc()
		for _, reason := range fe.Reasons() {
			r.metrics.reasons.WithLabelValues(string(reason)).Inc()
		}
		r.queue.requeue(qp, true)
		r.reportUnschedulable(ctx, pod, fe)
		return
	case err != nil: // no other errors today; keep the pod moving if one appears
		r.metrics.attempts.WithLabelValues(resultError).Inc()
		r.log.Error("scheduling failed", "pod", qp.key, "err", err)
		r.queue.requeue(qp, false)
		return
	}
	r.log.Debug("assumed", "pod", qp.key, "node", res.Node, "evaluated", res.Evaluated, "feasible", res.Feasible)
	select {
	case r.binds <- struct{}{}:
	case <-ctx.Done():
		r.cache.forget(pi)
		return
	}
	r.inflight.Add(1)
	go func() {
		defer r.inflight.Done()
		defer func() { <-r.binds }()
		r.bind(ctx, qp, pi, res.Node)
	}()
}
