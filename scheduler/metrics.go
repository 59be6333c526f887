package scheduler

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Attempt results, the labels of skiff_scheduler_attempts_total.
const (
	resultScheduled     = "scheduled"
	resultUnschedulable = "unschedulable"
	resultError         = "error"
)

type metrics struct {
	attempts           *prometheus.CounterVec
	schedulingDuration prometheus.Histogram
	pending            prometheus.Gauge
	bindDuration       prometheus.Histogram
	reasons            *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_scheduler_attempts_total",
			Help: "Scheduling attempts by result: scheduled (bound), unschedulable (no node fits), error (Bind or API failure).",
		}, []string{"result"}),
		schedulingDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "skiff_scheduler_scheduling_duration_seconds",
			Help:    "Time from a pod entering the scheduling queue to its Bind succeeding.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18), // 1ms .. ~2m
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skiff_scheduler_pending_pods",
			Help: "Pods waiting for a node: queued, backing off, unschedulable or being bound.",
		}),
		bindDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "skiff_scheduler_bind_duration_seconds",
			Help:    "Latency of the Bind call.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5ms .. ~16s
		}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_scheduler_unschedulable_reasons_total",
			Help: "Unschedulable attempts by rejection reason; an attempt counts once for each distinct reason among its nodes.",
		}, []string{"reason"}),
	}
	for _, r := range []string{resultScheduled, resultUnschedulable, resultError} {
		m.attempts.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.attempts, m.schedulingDuration, m.pending, m.bindDuration, m.reasons} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("scheduler: register metrics: %w", err)
		}
	}
	return m, nil
}
