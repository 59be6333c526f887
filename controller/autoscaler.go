package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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

	target, ok := as.target(a)
	if !ok {
		what := "replica set"
		if a.GetSpec().GetTargetKind() == "Deployment" {
			what = "deployment"
		}
		cond(skiffv1.AbleToScale, skiffv1.ConditionFalse, reasonFailedGetScale, "the target %s %q does not exist", what, a.GetSpec().GetTarget())
		return as.writeStatus(ctx, a, st)
	}
	current := target.replicas
	st.CurrentReplicas = current
	minR, maxR := a.GetSpec().GetMinReplicas(), a.GetSpec().GetMaxReplicas()

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
		rec, err := as.recommend(ctx, target, current, scaleMetrics(a.GetSpec()))
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
		st.CurrentCpuUtilizationPercent = rec.cpuUtilization
		cond(skiffv1.ScalingActive, skiffv1.ConditionTrue, reasonValidMetricFound, "the autoscaler was able to compute the replica count from %s", rec.metric)
		up, down := as.windows(a.GetSpec().GetBehavior())
		stable := as.stabilizer(key).Stabilize(now, up, down, current, rec.replicas)
		var limited bool
		var limReason, limMsg string
		desired, limited, limReason, limMsg = autoscale.Limit(current, stable, minR, maxR)
		if limited {
			cond(skiffv1.ScalingLimited, skiffv1.ConditionTrue, limReason, "%s", limMsg)
		} else {
			cond(skiffv1.ScalingLimited, skiffv1.ConditionFalse, limReason, "%s", limMsg)
		}
		reason = fmt.Sprintf("%s; recommended %d, %d within the stabilization windows", rec.reason, rec.replicas, stable)
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

// scaleMetrics are the metrics an autoscaler scales on: its metrics, or
// the CPU utilization target of the simple form.
func scaleMetrics(s *skiffv1.AutoscalerSpec) []*skiffv1.MetricSpec {
	if len(s.GetMetrics()) > 0 {
		return s.GetMetrics()
	}
	return []*skiffv1.MetricSpec{{Type: "Resource", Resource: &skiffv1.ResourceMetricSource{
		Name: "cpu", Target: &skiffv1.MetricTarget{Type: "Utilization", AverageUtilization: proto.Int32(s.GetTargetCpuUtilizationPercent())},
	}}}
}

// windows are the stabilization windows of behavior: scale-up none and
// scale-down the controller's unless it says otherwise.
func (as *autoscalers) windows(b *skiffv1.AutoscalerBehavior) (up, down time.Duration) {
	down = as.window
	if w := b.GetScaleUp(); w != nil && w.StabilizationWindowSeconds != nil {
		up = time.Duration(*w.StabilizationWindowSeconds) * time.Second
	}
	if w := b.GetScaleDown(); w != nil && w.StabilizationWindowSeconds != nil {
		down = time.Duration(*w.StabilizationWindowSeconds) * time.Second
	}
	return up, down
}

// recommendation is what the metrics ask for together: the largest count
// any of them asks for, as Kubernetes' HPA takes.
type recommendation struct {
	replicas       int32
	cpuUtilization *int32 // the mean CPU use in percent of requests, when a metric reads it
	metric         string // the metric that asked for replicas
	reason         string
}

// recommend reads the target's pods and their usage and returns what the
// metrics ask for.
func (as *autoscalers) recommend(ctx context.Context, target scaleTarget, current int32, metrics []*skiffv1.MetricSpec) (recommendation, error) {
	sel, err := labels.FromLabelSelector(target.selector)
	if err != nil || sel.Empty() {
		return recommendation{}, &selectorError{fmt.Errorf("the target's selector: %v", err)}
	}
	ns := target.obj.GetMetadata().GetNamespace()
	var pods []*skiffv1.Pod
	for _, p := range as.inf.pods.ByIndex(indexNamespace, ns) {
		if sel.Matches(p.GetMetadata().GetLabels()) && podActive(p) {
			pods = append(pods, p)
		}
	}
	if len(pods) == 0 {
		return recommendation{}, errors.New("the target has no pods")
	}
	cctx, cancel := call(ctx)
	snap, err := as.usage.Get(cctx, &skiffv1.UsageQuery{Namespace: ns})
	cancel()
	if err != nil {
		return recommendation{}, fmt.Errorf("read pod usage: %w", err)
	}
	var out recommendation
	for i, m := range metrics {
		rec, err := recommendFor(m, current, pods, snap, ns, as.tol)
		if err != nil {
			return recommendation{}, err
		}
		name, t := m.GetResource().GetName(), m.GetResource().GetTarget()
		desc := fmt.Sprintf("%s resource utilization (percentage of request) %d%%, target %d%%", name, rec.UtilizationPercent, t.GetAverageUtilization())
		if t.GetType() == "AverageValue" {
			desc = fmt.Sprintf("%s resource use per pod %d%% of the target %s", name, rec.UtilizationPercent, t.GetAverageValue())
		} else if name == "cpu" {
			u := rec.UtilizationPercent
			out.cpuUtilization = &u
		}
		if i == 0 || rec.Replicas > out.replicas {
			out.replicas, out.metric = rec.Replicas, name+" resource "+strings.ToLower(t.GetType())
		}
		out.reason = strings.TrimPrefix(out.reason+"; "+desc, "; ")
		as.log.Debug("recommendation", "target", client.KeyOf(target.obj), "metric", name, "current", current, "pods", len(pods),
			"utilization", rec.UtilizationPercent, "replicas", rec.Replicas)
	}
	return out, nil
}

// recommendFor computes what one metric asks for. An AverageValue target
// is a Utilization target of 100 % of a request equal to that value, which
// is Kubernetes' calculation for raw values too.
func recommendFor(m *skiffv1.MetricSpec, current int32, pods []*skiffv1.Pod, snap *skiffv1.UsageSnapshot, ns string, tol float64) (autoscale.Recommendation, error) {
	name, t := m.GetResource().GetName(), m.GetResource().GetTarget()
	var perPod int64
	targetPct := t.GetAverageUtilization()
	if t.GetType() == "AverageValue" {
		q, err := quantity.Parse(t.GetAverageValue())
		if err != nil {
			return autoscale.Recommendation{}, fmt.Errorf("target averageValue %q: %w", t.GetAverageValue(), err)
		}
		perPod, targetPct = amount(name, q), 100
	}
	in := make([]autoscale.Pod, 0, len(pods))
	for _, p := range pods {
		req := perPod
		if req == 0 {
			r, err := requestOf(p, name)
			if err != nil {
				return autoscale.Recommendation{}, err
			}
			req = r
		}
		in = append(in, autoscale.Pod{
			Name:    p.GetMetadata().GetName(),
			Pending: p.GetStatus().GetPhase() == "Pending" || p.GetStatus().GetPhase() == "",
			Ready:   skiffv1.IsPodReady(p),
			Request: req,
		})
	}
	usage := map[string]int64{}
	for _, u := range snap.GetPods() {
		if u.GetNamespace() != ns {
			continue
		}
		if name == "cpu" {
			usage[u.GetName()] = int64(u.GetUsage().GetCpuCores()*1000 + 0.5)
		} else {
			usage[u.GetName()] = int64(u.GetUsage().GetMemoryWorkingSetBytes())
		}
	}
	return autoscale.Replicas(current, in, usage, targetPct, tol)
}

// amount is a quantity in the unit usage is read in: millicores of cpu,
// bytes of memory.
func amount(resource string, q quantity.Quantity) int64 {
	if resource == "cpu" {
		return q.MilliValue()
	}
	return q.Value()
}

// requestOf sums the requests of pod's containers for resource, in the
// unit of amount; a container without one makes utilization undefined.
func requestOf(p *skiffv1.Pod, resource string) (int64, error) {
	var sum int64
	for _, c := range p.GetSpec().GetContainers() {
		s, ok := c.GetResources().GetRequests()[resource]
		if !ok {
			return 0, fmt.Errorf("missing request for %s in container %s of pod %s", resource, c.GetName(), p.GetMetadata().GetName())
		}
		q, err := quantity.Parse(s)
		if err != nil {
			return 0, fmt.Errorf("pod %s container %s: %s request %q: %w", p.GetMetadata().GetName(), c.GetName(), resource, s, err)
		}
		sum += amount(resource, q)
	}
	return sum, nil
}

// scaleTarget is what the autoscaler reads of the object it scales: a
// ReplicaSet or a Deployment.
type scaleTarget struct {
	obj      skiffv1.Resource
	replicas int32
	selector *skiffv1.LabelSelector
}

// target finds the autoscaler's target in the caches.
func (as *autoscalers) target(a *skiffv1.Autoscaler) (scaleTarget, bool) {
	key := client.Key(a.GetMetadata().GetNamespace(), a.GetSpec().GetTarget())
	if a.GetSpec().GetTargetKind() == "Deployment" {
		dp, ok := as.inf.deployments.Get(key)
		return scaleTarget{dp, dp.GetSpec().GetReplicas(), dp.GetSpec().GetSelector()}, ok
	}
	rs, ok := as.inf.rss.Get(key)
	return scaleTarget{rs, rs.GetSpec().GetReplicas(), rs.GetSpec().GetSelector()}, ok
}

// scale writes the target's spec.replicas.
func (as *autoscalers) scale(ctx context.Context, target scaleTarget, replicas int32) error {
	var err error
	switch t := target.obj.(type) {
	case *skiffv1.Deployment:
		err = setReplicas(ctx, as.c.Deployments(), t, replicas, func(d *skiffv1.Deployment) **int32 { return &d.Spec.Replicas })
	case *skiffv1.ReplicaSet:
		err = setReplicas(ctx, as.c.ReplicaSets(), t, replicas, func(rs *skiffv1.ReplicaSet) **int32 { return &rs.Spec.Replicas })
	}
	if err != nil {
		return fmt.Errorf("autoscaler: scale %s to %d: %w", client.KeyOf(target.obj), replicas, err)
	}
	return nil
}

// setReplicas writes one object's spec.replicas, unless it was replaced.
func setReplicas[T skiffv1.Resource](ctx context.Context, res client.Resource[T], target T, replicas int32, field func(T) **int32) error {
	cctx, cancel := call(ctx)
	defer cancel()
	uid := target.GetMetadata().GetUid()
	_, err := res.Modify(cctx, target.GetMetadata().GetNamespace(), target.GetMetadata().GetName(), func(cur T) error {
		if cur.GetMetadata().GetUid() != uid {
			return fmt.Errorf("the target was replaced")
		}
		f := field(cur)
		if *f != nil && **f == replicas {
			return client.ErrNoChange
		}
		*f = proto.Int32(replicas)
		return nil
	})
	return err
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
