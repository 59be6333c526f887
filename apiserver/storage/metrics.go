package storage

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the store's Prometheus metrics; a nil *Metrics records nothing.
type Metrics struct {
	latency *prometheus.HistogramVec
	watches prometheus.Gauge
}

// NewMetrics registers the store's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "skiff_apiserver_etcd_request_duration_seconds",
			Help:    "Latency of etcd requests made by the API server, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
		}, []string{"operation"}),
		watches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skiff_apiserver_etcd_watches",
			Help: "Open etcd watches.",
		}),
	}
	reg.MustRegister(m.latency, m.watches)
	return m
}

func (m *Metrics) observe(op string, start time.Time) {
	if m != nil {
		m.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	}
}

func (m *Metrics) watchStarted() {
	if m != nil {
		m.watches.Inc()
	}
}

func (m *Metrics) watchEnded() {
	if m != nil {
		m.watches.Dec()
	}
}
