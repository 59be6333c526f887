package controller

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/controller/workqueue"
)

// reconciler drives one controller: workers take keys from its queue and
// call sync; a failed key comes back after its back-off.
type reconciler struct {
	name    string
	queue   *workqueue.Queue
	sync    func(ctx context.Context, key string) error
	workers int
	log     *slog.Logger
	m       *metrics
}

func newReconciler(name string, workers int, log *slog.Logger, m *metrics, sync func(context.Context, string) error) *reconciler {
	q := workqueue.New(50*time.Millisecond, 5*time.Minute)
	m.depth.set(name, q)
	return &reconciler{name: name, queue: q, sync: sync, workers: workers, log: log.With("controller", name), m: m}
}

// run works the queue until ctx ends, then lets the workers finish the
// keys they hold.
func (r *reconciler) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < r.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	r.queue.ShutDown()
	wg.Wait()
}

func (r *reconciler) next(ctx context.Context) bool {
	key, shutdown := r.queue.Get()
	if shutdown {
		return false
	}
	defer r.queue.Done(key)
	start := time.Now()
	err := r.sync(ctx, key)
	r.m.duration.WithLabelValues(r.name).Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		r.queue.Forget(key)
	case ctx.Err() != nil:
		// Stopping: the next leader starts from a fresh list.
	default:
		r.m.errors.WithLabelValues(r.name).Inc()
		level := slog.LevelDebug
		if r.queue.Failures(key) >= 3 {
			level = slog.LevelWarn
		}
		r.log.Log(ctx, level, "sync failed; will retry", "key", key, "err", err, "failures", r.queue.Failures(key)+1)
		r.queue.AddRateLimited(key)
	}
	return true
}
