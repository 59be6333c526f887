package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// evictionLimiter lets one node's pods be evicted per interval: when many
// nodes fall silent at once the cluster loses capacity gradually, and a
// partition that heals soon costs little.
type evictionLimiter struct {
	interval time.Duration
	mu       sync.Mutex
	last     time.Time
}

// allow takes the token if it is there; otherwise it says how long until
// it is.
func (l *evictionLimiter) allow(now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		return false, l.interval - now.Sub(l.last)
	}
	l.last = now
	return true, 0
}

// unreachableShare counts the nodes that are silent or not Ready.
func (nl *nodeLifecycle) unreachableShare() (unreachable, total int) {
	for _, n := range nl.nodes.List() {
		total++
		if !skiffv1.IsNodeReady(n) || hasTaint(n, TaintUnreachable) {
			unreachable++
		}
	}
	return unreachable, total
}

// evictionDelay is how long after the node became unreachable pod goes: a
// pod tolerating the taint for a while stays that long, one tolerating it
// for good stays (forever), the rest go after the eviction timeout.
func evictionDelay(pod *skiffv1.Pod, def time.Duration) (d time.Duration, forever bool) {
	// As Kubernetes: of the tolerations that match, the shortest time
	// wins; only when none of them has a time does the pod stay for good.
	taint := &skiffv1.Taint{Key: TaintUnreachable, Effect: "NoExecute"}
	matched, timed := false, false
	for _, tol := range pod.GetSpec().GetTolerations() {
		if !tol.ToleratesTaint(taint) {
			continue
		}
		matched = true
		if tol.TolerationSeconds == nil {
			continue
		}
		s := time.Duration(max(tol.GetTolerationSeconds(), 0)) * time.Second
		if !timed || s < d {
			d = s
		}
		timed = true
	}
	switch {
	case timed:
		return d, false
	case matched:
		return 0, true
	}
	return def, false
}

// maybeEvict deletes, with force, the pods of the unreachable node n whose
// time is up, if the limiter allows and most of the cluster is reachable.
func (nl *nodeLifecycle) maybeEvict(ctx context.Context, n *skiffv1.Node) error {
	name := n.GetMetadata().GetName()
	now := nl.now()
	since := now
	if t := taintOf(n, TaintUnreachable); t != nil && t.GetTimeAdded() != nil {
		since = t.GetTimeAdded().AsTime()
	}
	var due []*skiffv1.Pod
	next := time.Duration(0)
	for _, p := range nl.pods.ByIndex(indexNode, name) {
		d, forever := evictionDelay(p, nl.timeout)
		if forever {
			continue
		}
		if wait := since.Add(d).Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		due = append(due, p)
	}
	if len(due) == 0 {
		if next > 0 {
			nl.r.queue.AddAfter(name, next)
		}
		return nil
	}
	if unreachable, total := nl.unreachableShare(); 2*unreachable > total {
		// Most of the cluster silent at once is a partition of this
		// controller, or a control-plane fault: evicting would move
		// every pod to the few nodes left, or nowhere.
		nl.log.Warn("not evicting: more than half of the nodes are unreachable", "unreachable", unreachable, "nodes", total, "node", name)
		return nil
	}
	if ok, wait := nl.evict.allow(now); !ok {
		nl.r.queue.AddAfter(name, wait)
		return nil
	}
	nl.log.Warn("evicting the pods of an unreachable node", "node", name, "pods", len(due))
	nl.rec.event(ctx, "Node", n, "Warning", "EvictingPods", "Deleting %d pods of unreachable node %s", len(due), name)
	var errs []error
	for _, p := range due {
		cctx, cancel := call(ctx)
		_, _, err := nl.c.Pods().Delete(cctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(),
			client.DeleteOptions{UID: p.GetMetadata().GetUid(), Force: true})
		cancel()
		if err != nil && !client.IsNotFound(err) && !client.IsConflict(err) {
			errs = append(errs, fmt.Errorf("nodelifecycle: evict pod %s: %w", client.KeyOf(p), err))
		}
	}
	return errors.Join(errs...)
}
