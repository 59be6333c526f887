package controller

import (
	"log/slog"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// cronJobs makes each CronJob's Jobs at the times of its schedule, as
// Kubernetes' CronJob controller (v2) does: one sync per CronJob looks at
// its Jobs, starts the most recent run that is due (never a backlog of
// missed ones), applies the concurrency policy, trims the history, and
// sets a timer for the next time. Between runs it costs nothing: no
// polling, one timer per CronJob.
type cronJobs struct {
	c        *client.Client
	cronJobs *client.SharedInformer[*skiffv1.CronJob]
	jobs     *client.SharedInformer[*skiffv1.Job]
	rec      *recorder
	log      *slog.Logger
	clock    clock
	r        *reconciler
	// written holds back syncs until the cache shows our last status.
	written *writtenStatuses

	wakes *wakeups

	mu sync.Mutex
	// held: by key, the due time of a run that waits (Forbid), so that
	// its events are recorded once, not on every sync while it waits.
	held map[string]time.Time
}

func newCronJobs(cfg *Config, inf *informers, m *metrics, rec *recorder) *cronJobs {
	cc := &cronJobs{
		c: cfg.Client, cronJobs: inf.cronJobs, jobs: inf.jobs, rec: rec,
		log: cfg.Logger.With("controller", nameCronJob), clock: cfg.clock, written: newWrittenStatuses(), held: map[string]time.Time{},
	}
	cc.r = newReconciler(nameCronJob, cfg.Workers, cfg.Logger, m, cc.sync)
	cc.wakes = newWakeups(cfg.clock, func(key string) { cc.r.queue.Add(key) })
	inf.cronJobs.AddHandler(client.Handler[*skiffv1.CronJob]{
		OnAdd:    func(o *skiffv1.CronJob) { cc.r.queue.Add(client.KeyOf(o)) },
		OnUpdate: func(_, o *skiffv1.CronJob) { cc.r.queue.Add(client.KeyOf(o)) },
		OnDelete: func(o *skiffv1.CronJob) {
			cc.wakes.forget(client.KeyOf(o))
			cc.mu.Lock()
			delete(cc.held, client.KeyOf(o))
			cc.mu.Unlock()
			cc.written.forget(client.KeyOf(o))
		},
	})
	inf.jobs.AddHandler(client.Handler[*skiffv1.Job]{
		OnAdd:    cc.jobChanged,
		OnUpdate: func(_, j *skiffv1.Job) { cc.jobChanged(j) },
		OnDelete: cc.jobChanged,
	})
	return cc
}

// jobChanged queues the CronJob controlling j.
func (cc *cronJobs) jobChanged(j *skiffv1.Job) {
	if ref := controllerRef(j.GetMetadata()); ref != nil && ref.GetKind() == "CronJob" {
		cc.r.queue.Add(client.Key(j.GetMetadata().GetNamespace(), ref.GetName()))
	}
}

// firstHold reports whether the run due at `due` is held for the first
// time (its events not yet recorded).
func (cc *cronJobs) firstHold(key string, due time.Time) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.held[key].Equal(due) {
		return false
	}
	cc.held[key] = due
	return true
}
