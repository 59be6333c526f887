package controller

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/controller/workqueue"
)

// The reconcilers' names, the controller label of the metrics.
const (
	nameReplicaSet            = "replicaset"
	nameReplicationController = "replicationcontroller"
	nameGarbage               = "garbagecollector"
	nameJob                   = "job"
	nameCronJob               = "cronjob"
	nameNodeLifecycle         = "nodelifecycle"
	nameAutoscaler            = "autoscaler"
	nameDeployment            = "deployment"
	nameEndpoints             = "endpoints"
	nameDaemonSet             = "daemonset"
	nameStatefulSet           = "statefulset"
	// skiff's own load balancer (ServiceLB).
	nameServiceLB = "servicelb"
	// The PersistentVolume binder.
	namePersistentVolume = "persistentvolume"
)

var reconcilerNames = []string{nameReplicaSet, nameReplicationController, nameGarbage, nameNodeLifecycle, nameAutoscaler, nameDeployment, nameEndpoints, nameJob, nameCronJob, nameDaemonSet, nameStatefulSet, namePersistentVolume, nameServiceLB}

type metrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	depth    *depthCollector

	asCurrent *prometheus.GaugeVec
	asDesired *prometheus.GaugeVec
	asUtil    *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	asLabels := []string{"namespace", "name"}
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "skiff_controller_reconcile_duration_seconds",
			Help:    "Time one reconcile (sync of one key) took, by controller.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5ms .. ~16s
		}, []string{"controller"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_controller_reconcile_errors_total",
			Help: "Reconciles that failed and were queued again after a back-off, by controller.",
		}, []string{"controller"}),
		depth: &depthCollector{
			desc:   prometheus.NewDesc("skiff_controller_queue_depth", "Keys waiting for a worker, by controller.", []string{"controller"}, nil),
			queues: map[string]*workqueue.Queue{},
		},
		asCurrent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skiff_autoscaler_current_replicas",
			Help: "Replicas of the autoscaler's target when it was last evaluated.",
		}, asLabels),
		asDesired: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skiff_autoscaler_desired_replicas",
			Help: "Replicas the autoscaler last asked for.",
		}, asLabels),
		asUtil: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skiff_autoscaler_cpu_utilization_percent",
			Help: "Mean CPU use of the target's ready pods, in percent of their requests.",
		}, asLabels),
	}
	for _, n := range reconcilerNames {
		m.errors.WithLabelValues(n)
		m.duration.WithLabelValues(n)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.duration, m.errors, m.depth, m.asCurrent, m.asDesired, m.asUtil} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("controller: register metrics: %w", err)
		}
	}
	return m, nil
}

// forgetAutoscaler drops the gauges of a deleted autoscaler.
func (m *metrics) forgetAutoscaler(namespace, name string) {
	m.asCurrent.DeleteLabelValues(namespace, name)
	m.asDesired.DeleteLabelValues(namespace, name)
	m.asUtil.DeleteLabelValues(namespace, name)
}

// depthCollector reads the queues' lengths when scraped. The queues are
// made anew on every Run (a new leadership term), so they are looked up
// here rather than captured by gauge functions.
type depthCollector struct {
	desc   *prometheus.Desc
	mu     sync.Mutex
	queues map[string]*workqueue.Queue
}

func (d *depthCollector) set(name string, q *workqueue.Queue) {
	d.mu.Lock()
	d.queues[name] = q
	d.mu.Unlock()
}

func (d *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

func (d *depthCollector) Collect(ch chan<- prometheus.Metric) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range reconcilerNames {
		depth := 0
		if q := d.queues[n]; q != nil {
			depth = q.Len()
		}
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, float64(depth), n)
	}
}
