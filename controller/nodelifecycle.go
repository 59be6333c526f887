package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/client/nodelease"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// TaintUnreachable is put on a node whose agent stopped posting its
// heartbeat; the scheduler keeps new pods off it.
const TaintUnreachable = "node.skiff.io/unreachable"

// nodeLifecycle watches the nodes' heartbeats. A node silent for longer
// than the grace period turns Ready=Unknown and gets the unreachable
// taint; after the eviction timeout its pods are deleted with force (no
// agent will confirm) so that their replica sets recreate them elsewhere.
// Until then its pods are marked Ready=False (NodeNotReady). A node that
// posts again loses the taint (its agent sets Ready itself, on the node
// and on its pods).
//
// A heartbeat is either the renewal of the node's Lease in kube-node-lease
// (what agents send) or a new heartbeat time in the Node's Ready
// condition (written at registration and on every status change): either
// one changing counts. Silence is measured on this controller's clock,
// from when it last saw a heartbeat change, as Kubernetes does: the
// agents' clocks may be off.
type nodeLifecycle struct {
	c       *client.Client
	log     *slog.Logger
	nodes   *client.SharedInformer[*skiffv1.Node]
	leases  *client.SharedInformer[*skiffv1.Lease]
	pods    *client.SharedInformer[*skiffv1.Pod]
	rec     *recorder
	grace   time.Duration
	timeout time.Duration
	period  time.Duration
	evict   *evictionLimiter
	now     func() time.Time
	r       *reconciler

	mu     sync.Mutex
	health map[string]nodeHealth // by node name
}

type nodeHealth struct {
	uid        string
	heartbeat  time.Time // the value last seen in the Ready condition
	renewed    time.Time // the node's Lease's renew time last seen
	observedAt time.Time // when either was last seen to change, on our clock
}

func newNodeLifecycle(cfg *Config, inf *informers, m *metrics, rec *recorder) *nodeLifecycle {
	nl := &nodeLifecycle{
		c: cfg.Client, log: cfg.Logger.With("controller", nameNodeLifecycle),
		nodes: inf.nodes, leases: inf.leases, pods: inf.pods, rec: rec,
		grace: cfg.NodeGracePeriod, timeout: cfg.PodEvictionTimeout, period: cfg.NodeMonitorPeriod,
		evict: &evictionLimiter{interval: cfg.NodeEvictionInterval},
		now:   time.Now, health: map[string]nodeHealth{},
	}
	nl.r = newReconciler(nameNodeLifecycle, cfg.Workers, cfg.Logger, m, nl.sync)
	inf.nodes.AddHandler(client.Handler[*skiffv1.Node]{
		OnAdd:    func(n *skiffv1.Node) { nl.r.queue.Add(n.GetMetadata().GetName()) },
		OnUpdate: func(_, n *skiffv1.Node) { nl.r.queue.Add(n.GetMetadata().GetName()) },
		OnDelete: func(n *skiffv1.Node) {
			nl.mu.Lock()
			delete(nl.health, n.GetMetadata().GetName())
			nl.mu.Unlock()
		},
	})
	// A node's Lease is named after it: its renewal is the node's
	// heartbeat.
	inf.leases.AddHandler(client.Handler[*skiffv1.Lease]{
		OnAdd:    func(l *skiffv1.Lease) { nl.r.queue.Add(l.GetMetadata().GetName()) },
		OnUpdate: func(_, l *skiffv1.Lease) { nl.r.queue.Add(l.GetMetadata().GetName()) },
	})
	return nl
}

// renewedAt is the renew time of the node's Lease, or the zero time when
// it has none.
func (nl *nodeLifecycle) renewedAt(name string) time.Time {
	l, ok := nl.leases.Get(client.Key(defaults.NodeLeaseNamespace, name))
	if !ok {
		return time.Time{}
	}
	return nodelease.RenewTime(l)
}

// monitor queues every node each period: silence produces no events, so
// the clock has to drive the checks.
func (nl *nodeLifecycle) monitor(ctx context.Context) {
	t := time.NewTicker(nl.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, n := range nl.nodes.List() {
				nl.r.queue.Add(n.GetMetadata().GetName())
			}
		}
	}
}

// heartbeatOf is the Ready condition's heartbeat, or the creation time of
// a node that never posted one.
func heartbeatOf(n *skiffv1.Node) time.Time {
	if c := skiffv1.FindCondition(n.GetStatus().GetConditions(), skiffv1.NodeReady); c != nil && c.GetLastHeartbeatTime() != nil {
		return c.GetLastHeartbeatTime().AsTime()
	}
	return n.GetMetadata().GetCreationTimestamp().AsTime()
}

// observe records n's heartbeat and reports whether it has been silent
// for longer than the grace period.
func (nl *nodeLifecycle) observe(n *skiffv1.Node) (silent bool) {
	now := nl.now()
	hb := heartbeatOf(n)
	name := n.GetMetadata().GetName()
	renewed := nl.renewedAt(name)
	nl.mu.Lock()
	defer nl.mu.Unlock()
	h, ok := nl.health[name]
	if !ok || h.uid != n.GetMetadata().GetUid() || !h.heartbeat.Equal(hb) || !h.renewed.Equal(renewed) {
		// New to us, or a fresh heartbeat. A node first seen by this
		// controller (a restart, a new leader) gets a full grace period.
		h = nodeHealth{uid: n.GetMetadata().GetUid(), heartbeat: hb, renewed: renewed, observedAt: now}
		nl.health[name] = h
	}
	return now.Sub(h.observedAt) > nl.grace
}

func (nl *nodeLifecycle) sync(ctx context.Context, name string) error {
	n, ok := nl.nodes.Get(name)
	if !ok {
		return nil
	}
	if !nl.observe(n) {
		return nl.markReachable(ctx, n)
	}
	n, err := nl.markUnreachable(ctx, n)
	if err != nil || n == nil {
		return err
	}
	return errors.Join(nl.markPodsNotReady(ctx, n), nl.maybeEvict(ctx, n))
}

// markUnreachable sets Ready=Unknown and the NoExecute taint, and returns
// the node as written (nil if it came back or went meanwhile).
func (nl *nodeLifecycle) markUnreachable(ctx context.Context, n *skiffv1.Node) (*skiffv1.Node, error) {
	name := n.GetMetadata().GetName()
	seen := heartbeatOf(n)
	now := nl.now()
	cctx, cancel := call(ctx)
	defer cancel()
	out, err := nl.c.Nodes().ModifyStatus(cctx, "", name, func(cur *skiffv1.Node) error {
		if !heartbeatOf(cur).Equal(seen) {
			return errCameBack
		}
		ready := skiffv1.FindCondition(cur.GetStatus().GetConditions(), skiffv1.NodeReady)
		if ready != nil && ready.GetStatus() == skiffv1.ConditionUnknown {
			return client.ErrNoChange
		}
		if cur.Status == nil {
			cur.Status = &skiffv1.NodeStatus{}
		}
		c := &skiffv1.Condition{
			Type: skiffv1.NodeReady, Status: skiffv1.ConditionUnknown, Reason: skiffv1.ReasonNodeStatusUnknown,
			Message: fmt.Sprintf("the node's agent stopped posting status (no heartbeat for over %v)", nl.grace),
		}
		if ready != nil {
			c.LastHeartbeatTime = ready.GetLastHeartbeatTime()
		}
		skiffv1.SetCondition(&cur.Status.Conditions, c, now)
		return nil
	})
	switch {
	case err == errCameBack || client.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("nodelifecycle: mark node %s unknown: %w", name, err)
	}
	if ready := skiffv1.FindCondition(n.GetStatus().GetConditions(), skiffv1.NodeReady); ready == nil || ready.GetStatus() != skiffv1.ConditionUnknown {
		nl.log.Warn("node unreachable", "node", name, "silent_for", nl.grace)
		nl.rec.event(ctx, "Node", n, "Normal", "NodeNotReady", "Node %s status is now: NodeStatusUnknown", name)
	}
	if hasTaint(out, TaintUnreachable) {
		return out, nil
	}
	out, err = nl.c.Nodes().Modify(cctx, "", name, func(cur *skiffv1.Node) error {
		if hasTaint(cur, TaintUnreachable) {
			return client.ErrNoChange
		}
		if cur.Spec == nil {
			cur.Spec = &skiffv1.NodeSpec{}
		}
		cur.Spec.Taints = append(cur.Spec.Taints, &skiffv1.Taint{Key: TaintUnreachable, Effect: "NoExecute", TimeAdded: timestamppb.New(now)})
		return nil
	})
	if client.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nodelifecycle: taint node %s: %w", name, err)
	}
	return out, nil
}

var errCameBack = fmt.Errorf("node posted a heartbeat meanwhile")

// markReachable removes the unreachable taint of a node that posts again.
func (nl *nodeLifecycle) markReachable(ctx context.Context, n *skiffv1.Node) error {
	if !hasTaint(n, TaintUnreachable) {
		return nil
	}
	if ready := skiffv1.FindCondition(n.GetStatus().GetConditions(), skiffv1.NodeReady); ready == nil || ready.GetStatus() != skiffv1.ConditionTrue {
		// Fresh to us only because we just started: wait for the agent.
		return nil
	}
	name := n.GetMetadata().GetName()
	cctx, cancel := call(ctx)
	defer cancel()
	_, err := nl.c.Nodes().Modify(cctx, "", name, func(cur *skiffv1.Node) error {
		kept := cur.GetSpec().GetTaints()[:0]
		for _, t := range cur.GetSpec().GetTaints() {
			if t.GetKey() != TaintUnreachable {
				kept = append(kept, t)
			}
		}
		if len(kept) == len(cur.GetSpec().GetTaints()) {
			return client.ErrNoChange
		}
		cur.Spec.Taints = kept
		return nil
	})
	if client.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nodelifecycle: untaint node %s: %w", name, err)
	}
	nl.log.Info("node reachable again", "node", name)
	nl.rec.event(ctx, "Node", n, "Normal", "NodeReady", "Node %s status is now: NodeReady", name)
	return nil
}

func hasTaint(n *skiffv1.Node, key string) bool {
	return taintOf(n, key) != nil
}

func taintOf(n *skiffv1.Node, key string) *skiffv1.Taint {
	for _, t := range n.GetSpec().GetTaints() {
		if t.GetKey() == key {
			return t
		}
	}
	return nil
}
