package controller

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// jobs runs each Job's pods to completion: it starts up to parallelism
// pods (one per index for an Indexed Job), waits out a back-off after
// failures, counts each finished pod exactly once, and ends the Job
// Complete or Failed with Kubernetes' reasons.
//
// Counting uses Kubernetes' protocol: every pod is made with the
// job-tracking finalizer, so it cannot vanish before it is counted. A
// finished pod is first written into status.uncountedTerminatedPods,
// then its finalizer is removed, and only then (the pod released or gone)
// moved into the counters. A crash between any two steps repeats nothing.
type jobs struct {
	c    *client.Client
	pods *client.SharedInformer[*skiffv1.Pod]
	jobs *client.SharedInformer[*skiffv1.Job]
	exp  *expectations
	// written holds back syncs until the Job cache shows our last status.
	written *writtenStatuses
	rec     *recorder
	log     *slog.Logger
	clock   clock
	burst   int
	r       *reconciler
	wakes   *wakeups
}

// orphanPodKey prefixes queue keys of pods that still hold the tracking
// finalizer after their Job went.
const orphanPodKey = "pod:"

func newJobs(cfg *Config, inf *informers, m *metrics, rec *recorder) *jobs {
	jc := &jobs{
		c: cfg.Client, pods: inf.pods, jobs: inf.jobs, exp: newExpectations(), written: newWrittenStatuses(),
		rec: rec, log: cfg.Logger.With("controller", nameJob), clock: cfg.clock, burst: cfg.BurstReplicas,
	}
	jc.r = newReconciler(nameJob, cfg.Workers, cfg.Logger, m, jc.sync)
	jc.wakes = newWakeups(cfg.clock, func(key string) { jc.r.queue.Add(key) })
	inf.jobs.AddHandler(client.Handler[*skiffv1.Job]{
		OnAdd:    func(o *skiffv1.Job) { jc.r.queue.Add(client.KeyOf(o)) },
		OnUpdate: func(_, o *skiffv1.Job) { jc.r.queue.Add(client.KeyOf(o)) },
		OnDelete: func(o *skiffv1.Job) {
			jc.exp.forget(client.KeyOf(o))
			jc.written.forget(client.KeyOf(o))
			// Its pods' finalizers must go, or they would stay forever.
			for _, p := range inf.pods.ByIndex(indexOwner, o.GetMetadata().GetUid()) {
				jc.podChanged(p)
			}
		},
	})
	inf.pods.AddHandler(client.Handler[*skiffv1.Pod]{
		OnAdd: func(p *skiffv1.Pod) {
			if key, ok := jc.owner(p); ok {
				jc.exp.creationObserved(key)
			}
			jc.podChanged(p)
		},
		OnUpdate: func(old, p *skiffv1.Pod) {
			if p.GetMetadata().GetDeletionTimestamp() != nil && old.GetMetadata().GetDeletionTimestamp() == nil {
				if key, ok := jc.owner(p); ok {
					jc.exp.deletionObserved(key, p.GetMetadata().GetUid())
				}
			}
			jc.podChanged(p)
		},
		OnDelete: func(p *skiffv1.Pod) {
			if key, ok := jc.owner(p); ok {
				jc.exp.deletionObserved(key, p.GetMetadata().GetUid())
				jc.r.queue.Add(key)
			}
		},
	})
	return jc
}

// owner is the key of the Job controlling p, if it is in the cache with
// the reference's UID.
func (jc *jobs) owner(p *skiffv1.Pod) (string, bool) {
	ref := controllerRef(p.GetMetadata())
	if ref == nil || ref.GetKind() != "Job" {
		return "", false
	}
	key := client.Key(p.GetMetadata().GetNamespace(), ref.GetName())
	j, ok := jc.jobs.Get(key)
	if !ok || j.GetMetadata().GetUid() != ref.GetUid() {
		return "", false
	}
	return key, true
}

// podChanged queues p's Job, or p itself when it holds the tracking
// finalizer of a Job that is not there.
func (jc *jobs) podChanged(p *skiffv1.Pod) {
	if key, ok := jc.owner(p); ok {
		jc.r.queue.Add(key)
		return
	}
	if ref := controllerRef(p.GetMetadata()); ref != nil && ref.GetKind() == "Job" && hasTrackingFinalizer(p) {
		jc.r.queue.Add(orphanPodKey + client.KeyOf(p))
	}
}

func hasTrackingFinalizer(p *skiffv1.Pod) bool {
	return slices.Contains(p.GetMetadata().GetFinalizers(), jobTrackingFinalizer)
}

// releaseOrphan removes the tracking finalizer from a pod whose Job the
// server confirms is gone (the cache may lag behind a new Job).
func (jc *jobs) releaseOrphan(ctx context.Context, podKey string) error {
	p, ok := jc.pods.Get(podKey)
	if !ok || !hasTrackingFinalizer(p) {
		return nil
	}
	ref := controllerRef(p.GetMetadata())
	cctx, cancel := call(ctx)
	j, err := jc.c.Jobs().Get(cctx, p.GetMetadata().GetNamespace(), ref.GetName())
	cancel()
	switch {
	case err == nil && j.GetMetadata().GetUid() == ref.GetUid():
		jc.r.queue.Add(client.KeyOf(j)) // there after all: its sync handles the pod
		return nil
	case err != nil && !client.IsNotFound(err):
		return fmt.Errorf("job: look up the Job of pod %s: %w", podKey, err)
	}
	return jc.removeFinalizer(ctx, p)
}

// removeFinalizer drops the tracking finalizer from p.
func (jc *jobs) removeFinalizer(ctx context.Context, p *skiffv1.Pod) error {
	cctx, cancel := call(ctx)
	defer cancel()
	_, err := jc.c.Pods().Modify(cctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), func(cur *skiffv1.Pod) error {
		m := cur.GetMetadata()
		if m.GetUid() != p.GetMetadata().GetUid() || !slices.Contains(m.Finalizers, jobTrackingFinalizer) {
			return client.ErrNoChange
		}
		m.Finalizers = slices.DeleteFunc(m.Finalizers, func(f string) bool { return f == jobTrackingFinalizer })
		return nil
	})
	if err != nil && !client.IsNotFound(err) {
		return fmt.Errorf("job: remove the tracking finalizer of pod %s: %w", client.KeyOf(p), err)
	}
	return nil
}

func isOrphanPodKey(key string) (string, bool) { return strings.CutPrefix(key, orphanPodKey) }
