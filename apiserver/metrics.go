package apiserver

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/apiserver/storage"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type serverMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	watches  prometheus.Gauge
	panics   prometheus.Counter
}

func newServerMetrics(reg prometheus.Registerer) *serverMetrics {
	m := &serverMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_apiserver_requests_total",
			Help: "API requests by gRPC method and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "skiff_apiserver_request_duration_seconds",
			Help:    "Latency of unary API requests by gRPC method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"method"}),
		watches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skiff_apiserver_watch_streams",
			Help: "Open watch streams.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skiff_apiserver_panics_total",
			Help: "Requests whose handler panicked; each failed with Internal and was logged with its stack.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.watches, m.panics)
	return m
}

func (m *serverMetrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	m.latency.WithLabelValues(info.FullMethod).Observe(time.Since(start).Seconds())
	m.requests.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	return resp, err
}

func (m *serverMetrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	m.watches.Inc()
	err := handler(srv, ss)
	m.watches.Dec()
	m.requests.WithLabelValues(info.FullMethod, status.Code(err).String()).Inc()
	return err
}

// objectCounts reports how many objects of each kind are stored, counted in
// etcd when scraped.
type objectCounts struct {
	store *storage.Store
	desc  *prometheus.Desc
}

func (m *serverMetrics) registerObjectCounts(reg prometheus.Registerer, st *storage.Store) {
	reg.MustRegister(&objectCounts{store: st, desc: prometheus.NewDesc(
		"skiff_apiserver_objects", "Stored objects by kind.", []string{"kind"}, nil)})
}

func (c *objectCounts) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *objectCounts) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, info := range skiffv1.Kinds() {
		n, err := c.store.Count(ctx, info.Kind)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), info.Plural)
	}
}
