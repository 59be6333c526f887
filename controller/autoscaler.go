package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/autoscale"
	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// autoscalers set each target replica set's replicas from its pods'
// measured CPU use, every sync period. The arithmetic is in package
// autoscale; this is the plumbing: reading the target, its pods and their
// usage, writing the scale, the status, the events and the gauges.
type autoscalers struct {
	c      *client.Client
	log    *slog.Logger
	usage  skiffv1.UsageClient
	inf    *informers
	rec    *recorder
	m      *metrics
	period time.Duration
	window time.Duration
	tol    float64
	now    func() time.Time
	r      *reconciler

	mu          sync.Mutex
	stabilizers map[string]*autoscale.Stabilizer // by autoscaler key
}

func newAutoscalers(cfg *Config, inf *informers, m *metrics, rec *recorder) *autoscalers {
	as := &autoscalers{
		c: cfg.Client, log: cfg.Logger.With("controller", nameAutoscaler), usage: cfg.Usage,
		inf: inf, rec: rec, m: m, period: cfg.AutoscalerSyncPeriod, window: cfg.ScaleDownWindow,
		tol: cfg.AutoscalerTolerance, now: time.Now, stabilizers: map[string]*autoscale.Stabilizer{},
	}
	as.r = newReconciler(nameAutoscaler, cfg.Workers, cfg.Logger, m, as.sync)
	inf.autoscalers.AddHandler(client.Handler[*skiffv1.Autoscaler]{
		OnAdd: func(a *skiffv1.Autoscaler) { as.r.queue.Add(client.KeyOf(a)) },
		OnUpdate: func(old, a *skiffv1.Autoscaler) {
			// Our own status writes must not make it evaluate more often
			// than once a period; a new spec is looked at at once.
			if old.GetMetadata().GetGeneration() != a.GetMetadata().GetGeneration() {
				as.r.queue.Add(client.KeyOf(a))
			}
		},
		OnDelete: func(a *skiffv1.Autoscaler) {
			as.mu.Lock()
			delete(as.stabilizers, client.KeyOf(a))
			as.mu.Unlock()
			as.m.forgetAutoscaler(a.GetMetadata().GetNamespace(), a.GetMetadata().GetName())
		},
	})
	return as
}

// resync queues every autoscaler each period.
func (as *autoscalers) resync(ctx context.Context) {
	t := time.NewTicker(as.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, a := range as.inf.autoscalers.List() {
				as.r.queue.Add(client.KeyOf(a))
			}
		}
	}
}

func (as *autoscalers) stabilizer(key string) *autoscale.Stabilizer {
	as.mu.Lock()
	defer as.mu.Unlock()
	s, ok := as.stabilizers[key]
	if !ok {
		s = &autoscale.Stabilizer{}
		as.stabilizers[key] = s
	}
	return s
}

// Condition reasons, as Kubernetes names them.
const (
	reasonSucceededRescale  = "SucceededRescale"
	reasonReadyForNewScale  = "ReadyForNewScale"
	reasonFailedGetScale    = "FailedGetScale"
	reasonFailedUpdateScale = "FailedUpdateScale"
	reasonValidMetricFound  = "ValidMetricFound"
	reasonFailedGetMetric   = "FailedGetResourceMetric"
	reasonScalingDisabled   = "ScalingDisabled"
	reasonInvalidSelector   = "InvalidSelector"
)

func (as *autoscalers) sync(ctx context.Context, key string) error {
	a, ok := as.inf.autoscalers.Get(key)
	if !ok {
		return nil
	}
	now := as.now()
	ns, name := a.GetMetadata().GetNamespace(), a.GetMetadata().GetName()
	st := proto.Clone(a.GetStatus()).(*skiffv1.AutoscalerStatus)
	if st == nil {
		st = &skiffv1.AutoscalerStatus{}
	}
	st.ObservedGeneration = a.GetMetadata().GetGeneration()
	cond := func(typ, status, reason, format string, args ...any) {
		skiffv1.SetCondition(&st.Conditions, &skiffv1.Condition{Type: typ, Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}, now)
	}

	target, ok := as.inf.rss.Get(client.Key(ns, a.GetSpec().GetTarget()))
	if !ok {
		cond(skiffv1.AbleToScale, skiffv1.ConditionFalse, reasonFailedGetScale, "the target replica set %q does not exist", a.GetSpec().GetTarget())
		return as.writeStatus(ctx, a, st)
	}
	current := target.GetSpec().GetReplicas()
	st.CurrentReplicas = current
	minR, maxR := a.GetSpec().GetMinReplicas(), a.GetSpec().GetMaxReplicas()
	targetPct := a.GetSpec().GetTargetCpuUtilizationPercent()

	var desired int32
	var reason string
	switch {
	case current == 0:
		// Scaled to zero by hand: the user turned it off.
		desired = 0
		cond(skiffv1.ScalingActive, skiffv1.ConditionFalse, reasonScalingDisabled, "scaling is disabled since the replica count of the target is zero")
	case current > maxR:
		desired, reason = maxR, "current number of replicas above the maximum"
		cond(skiffv1.ScalingLimited, skiffv1.ConditionTrue, autoscale.ReasonTooManyReplicas, "the replica count is more than the maximum replica count")
	case current < minR:
		desired, reason = minR, "current number of replicas below the minimum"
		cond(skiffv1.ScalingLimited, skiffv1.ConditionTrue, autoscale.ReasonTooFewReplicas, "the replica count is less than the minimum replica count")
	default:
		rec, err := as.recommend(ctx, target, current, targetPct)
		if err != nil {
			reasonCode := reasonFailedGetMetric
			var sel *selectorError
			if errors.As(err, &sel) {
				reasonCode = reasonInvalidSelector
			}
			cond(skiffv1.ScalingActive, skiffv1.ConditionFalse, reasonCode, "the autoscaler was unable to compute the replica count: %v", err)
			st.CurrentCpuUtilizationPercent = nil
			as.gauges(ns, name, st)
			if werr := as.writeStatus(ctx, a, st); werr != nil {
				return werr
			}
			// Metrics come and go (pods starting): not a failure of the
			// sync, just nothing to do this period.
			return nil
		}
		util := rec.UtilizationPercent
		st.CurrentCpuUtilizationPercent = &util
		cond(skiffv1.ScalingActive, skiffv1.ConditionTrue, reasonValidMetricFound, "the autoscaler was able to compute the replica count from cpu resource utilization (percentage of request)")
		stable := as.stabilizer(key).Stabilize(now, as.window, rec.Replicas)
		var limited bool
		var limReason, limMsg string
		desired, limited, limReason, limMsg = autoscale.Limit(current, stable, minR, maxR)
		if limited {
			cond(skiffv1.ScalingLimited, skiffv1.ConditionTrue, limReason, "%s", limMsg)
		} else {
			cond(skiffv1.ScalingLimited, skiffv1.ConditionFalse, limReason, "%s", limMsg)
		}
		reason = fmt.Sprintf("cpu resource utilization (percentage of request) %d%%, target %d%%; recommended %d, highest within the stabilization window %d",
			util, targetPct, rec.Replicas, stable)
	}
	st.DesiredReplicas = desired

	if desired != current && current != 0 {
		if err := as.scale(ctx, target, desired); err != nil {
			cond(skiffv1.AbleToScale, skiffv1.ConditionFalse, reasonFailedUpdateScale, "the autoscaler failed to update the target scale: %v", err)
			as.gauges(ns, name, st)
			return errors.Join(err, as.writeStatus(ctx, a, st))
		}
		st.CurrentReplicas = desired
		st.LastScaleTime = timestamppb.New(now)
		cond(skiffv1.AbleToScale, skiffv1.ConditionTrue, reasonSucceededRescale, "the autoscaler was able to update the target scale to %d", desired)
		as.log.Info("rescaled", "autoscaler", key, "target", a.GetSpec().GetTarget(), "from", current, "to", desired, "reason", reason)
		as.rec.event(ctx, "Autoscaler", a, "Normal", "SuccessfulRescale", "New size: %d; reason: %s", desired, reason)
	} else {
		cond(skiffv1.AbleToScale, skiffv1.ConditionTrue, reasonReadyForNewScale, "recommended size matches current size")
	}
	as.gauges(ns, name, st)
	// The next evaluation comes from resync, one period on.
	return as.writeStatus(ctx, a, st)
}

type selectorError struct{ err error }

func (e *selectorError) Error() string { return e.err.Error() }

// recommend reads the target's pods and their usage and returns what the
// metrics ask for.
func (as *autoscalers) recommend(ctx context.Context, target *skiffv1.ReplicaSet, current, targetPct int32) (autoscale.Recommendation, error) {
	sel, err := labels.FromLabelSelector(target.GetSpec().GetSelector())
	if err != nil || sel.Empty() {
		return autoscale.Recommendation{}, &selectorError{fmt.Errorf("the target's selector: %v", err)}
	}
	ns := target.GetMetadata().GetNamespace()
	var pods []autoscale.Pod
	for _, p := range as.inf.pods.ByIndex(indexNamespace, ns) {
		if !sel.Matches(p.GetMetadata().GetLabels()) || !podActive(p) {
			continue
		}
		req, err := cpuRequestMilli(p)
		if err != nil {
			return autoscale.Recommendation{}, err
		}
		pods = append(pods, autoscale.Pod{
			Name:         p.GetMetadata().GetName(),
			Pending:      p.GetStatus().GetPhase() == skiffv1.PodPending || p.GetStatus().GetPhase() == "",
			Ready:        skiffv1.IsPodReady(p),
			RequestMilli: req,
		})
	}
	if len(pods) == 0 {
		return autoscale.Recommendation{}, errors.New("the target has no pods")
	}
	cctx, cancel := call(ctx)
	snap, err := as.usage.Get(cctx, &skiffv1.UsageQuery{Namespace: ns})
	cancel()
	if err != nil {
		return autoscale.Recommendation{}, fmt.Errorf("read pod usage: %w", err)
	}
	usage := map[string]int64{}
	for _, u := range snap.GetPods() {
		if u.GetNamespace() == ns {
			usage[u.GetName()] = int64(u.GetUsage().GetCpuCores()*1000 + 0.5)
		}
	}
	rec, err := autoscale.Replicas(current, pods, usage, targetPct, as.tol)
	as.log.Debug("recommendation", "target", client.KeyOf(target), "current", current, "pods", len(pods),
		"with_metrics", len(usage), "utilization", rec.UtilizationPercent, "replicas", rec.Replicas, "err", err)
	return rec, err
}

// cpuRequestMilli sums the CPU requests of pod's containers; a container
// without one makes utilization undefined.
func cpuRequestMilli(p *skiffv1.Pod) (int64, error) {
	var sum int64
	for _, c := range p.GetSpec().GetContainers() {
		s, ok := c.GetResources().GetRequests()["cpu"]
		if !ok {
			return 0, fmt.Errorf("missing request for cpu in container %s of pod %s", c.GetName(), p.GetMetadata().GetName())
		}
		q, err := quantity.Parse(s)
		if err != nil {
			return 0, fmt.Errorf("pod %s container %s: cpu request %q: %w", p.GetMetadata().GetName(), c.GetName(), s, err)
		}
		sum += q.MilliValue()
	}
	return sum, nil
}

// scale writes the target's spec.replicas.
func (as *autoscalers) scale(ctx context.Context, target *skiffv1.ReplicaSet, replicas int32) error {
	cctx, cancel := call(ctx)
	defer cancel()
	uid := target.GetMetadata().GetUid()
	_, err := as.c.ReplicaSets().Modify(cctx, target.GetMetadata().GetNamespace(), target.GetMetadata().GetName(), func(cur *skiffv1.ReplicaSet) error {
		if cur.GetMetadata().GetUid() != uid {
			return fmt.Errorf("the target was replaced")
		}
		if cur.GetSpec().GetReplicas() == replicas {
			return client.ErrNoChange
		}
		cur.Spec.Replicas = proto.Int32(replicas)
		return nil
	})
	if err != nil {
		return fmt.Errorf("autoscaler: scale %s to %d: %w", client.KeyOf(target), replicas, err)
	}
	return nil
}

func (as *autoscalers) gauges(ns, name string, st *skiffv1.AutoscalerStatus) {
	as.m.asCurrent.WithLabelValues(ns, name).Set(float64(st.GetCurrentReplicas()))
	as.m.asDesired.WithLabelValues(ns, name).Set(float64(st.GetDesiredReplicas()))
	if st.CurrentCpuUtilizationPercent != nil {
		as.m.asUtil.WithLabelValues(ns, name).Set(float64(st.GetCurrentCpuUtilizationPercent()))
	} else {
		as.m.asUtil.DeleteLabelValues(ns, name)
	}
}

func (as *autoscalers) writeStatus(ctx context.Context, a *skiffv1.Autoscaler, st *skiffv1.AutoscalerStatus) error {
	if proto.Equal(st, a.GetStatus()) {
		return nil
	}
	next := &skiffv1.Autoscaler{Metadata: proto.Clone(a.GetMetadata()).(*skiffv1.ObjectMeta), Status: st}
	next.Metadata.ResourceVersion = ""
	cctx, cancel := call(ctx)
	defer cancel()
	_, err := as.c.Autoscalers().UpdateStatus(cctx, next)
	if err != nil && !client.IsNotFound(err) {
		return fmt.Errorf("autoscaler: update status of %s: %w", client.KeyOf(a), err)
	}
	return nil
}
