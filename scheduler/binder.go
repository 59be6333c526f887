package scheduler

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// bindTimeout bounds one Bind, including pinning local volumes.
const bindTimeout = 30 * time.Second

// bind writes the decision. It runs on its own goroutine so the next
// decision does not wait for the write; on failure it drops the assumption
// and hands the pod back to the queue. A Bind already started is finished
// even when ctx ends, so the cache and the server agree on what was sent.
func (r *run) bind(ctx context.Context, qp *queuedPod, pi *PodInfo, node string) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bindTimeout)
	defer cancel()
	start := time.Now()
	err := r.pinLocalVolumes(bctx, pi, node)
	if err == nil {
		m := pi.Pod.GetMetadata()
		_, err = r.cfg.Client.Bind(bctx, m.GetNamespace(), m.GetName(), node, m.GetUid(), "")
	}
	r.metrics.bindDuration.Observe(time.Since(start).Seconds())
	if err == nil {
		r.metrics.attempts.WithLabelValues(resultScheduled).Inc()
		r.metrics.schedulingDuration.Observe(time.Since(qp.firstSeen).Seconds())
		r.queue.done(qp)
		r.log.Debug("bound", "pod", qp.key, "node", node)
		return
	}
	r.cache.forget(pi)
	r.queue.moveAll() // the room it held is free again
	if status.Code(err) == codes.FailedPrecondition {
		// Bound by someone else, or being deleted: the informer brings the
		// outcome; nothing to retry.
		r.log.Debug("bind refused", "pod", qp.key, "node", node, "err", err)
		r.queue.done(qp)
		return
	}
	r.metrics.attempts.WithLabelValues(resultError).Inc()
	r.log.Warn("bind failed; will retry", "pod", qp.key, "node", node, "err", err)
	r.queue.requeue(qp, false)
}

// pinLocalVolumes records the node on local volumes not pinned yet, before
// the pod is bound, so the data's home is fixed by the first pod that uses
// it. A volume pinned elsewhere meanwhile fails the bind (the pod is tried
// again and then sees the pin).
func (r *run) pinLocalVolumes(ctx context.Context, pi *PodInfo, node string) error {
	for _, key := range pi.Volumes {
		v, ok := r.volumes.Get(key)
		if !ok || v.GetSpec().GetLocal() == nil || v.GetSpec().GetLocal().GetNodeName() != "" {
			continue
		}
		m := v.GetMetadata()
		_, err := r.cfg.Client.Volumes().Modify(ctx, m.GetNamespace(), m.GetName(), func(v *skiffv1.Volume) error {
			switch v.GetSpec().GetLocal().GetNodeName() {
			case node:
				return client.ErrNoChange
			case "":
				v.Spec.Local.NodeName = node
				return nil
			}
			return fmt.Errorf("local volume %s was pinned to node %q meanwhile", key, v.GetSpec().GetLocal().GetNodeName())
		})
		if err != nil {
			return fmt.Errorf("pin volume %s to %s: %w", key, node, err)
		}
	}
	return nil
}
