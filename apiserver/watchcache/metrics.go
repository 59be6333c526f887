package watchcache

import (
	"github.com/prometheus/client_golang/prometheus"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// metrics are the cache's Prometheus metrics; nil records nothing.
type metrics struct {
	events     *prometheus.GaugeVec
	watching   *prometheus.GaugeVec
	slowEnded  *prometheus.CounterVec
	directOnes *prometheus.CounterVec
	lists      *prometheus.CounterVec
	fallbacks  *prometheus.CounterVec
	snaps      *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		events: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skiff_apiserver_watch_cache_events",
			Help: "Recent events the watch cache keeps, by kind.",
		}, []string{"kind"}),
		watching: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "skiff_apiserver_watch_cache_watchers",
			Help: "Watches served from the watch cache, by kind.",
		}, []string{"kind"}),
		slowEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_apiserver_watch_cache_slow_watchers_total",
			Help: "Watches ended because the client fell too far behind (it resumes from its last revision), by kind.",
		}, []string{"kind"}),
		directOnes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_apiserver_watch_cache_direct_watches_total",
			Help: "Watches from a revision older than the watch cache, served by an etcd watch of their own, by kind.",
		}, []string{"kind"}),
	}
	m.lists = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_apiserver_watch_cache_lists_total",
		Help: "List pages served from the watch cache, by kind.",
	}, []string{"kind"})
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skiff_apiserver_watch_cache_list_fallbacks_total",
		Help: "List pages read from etcd instead of the watch cache, by kind and reason (not_current: the cache did not reach etcd's revision in time; snapshot_gone: a continue token's snapshot is no longer kept).",
	}, []string{"kind", "reason"})
	m.snaps = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "skiff_apiserver_watch_cache_snapshots",
		Help: "Snapshots the watch cache keeps for the later pages of paged lists, by kind.",
	}, []string{"kind"})
	reg.MustRegister(m.events, m.watching, m.slowEnded, m.directOnes, m.lists, m.fallbacks, m.snaps)
	return m
}

func label(k skiffv1.Kind) string {
	if info, ok := skiffv1.Info(k); ok {
		return info.Plural
	}
	return k.String()
}

func (m *metrics) ringSize(k skiffv1.Kind, n int) {
	if m != nil {
		m.events.WithLabelValues(label(k)).Set(float64(n))
	}
}

func (m *metrics) watchers(k skiffv1.Kind, delta int) {
	if m != nil {
		m.watching.WithLabelValues(label(k)).Add(float64(delta))
	}
}

func (m *metrics) slow(k skiffv1.Kind) {
	if m != nil {
		m.slowEnded.WithLabelValues(label(k)).Inc()
	}
}

func (m *metrics) direct(k skiffv1.Kind) {
	if m != nil {
		m.directOnes.WithLabelValues(label(k)).Inc()
	}
}

func (m *metrics) served(k skiffv1.Kind) {
	if m != nil {
		m.lists.WithLabelValues(label(k)).Inc()
	}
}

func (m *metrics) fallback(k skiffv1.Kind, reason string) {
	if m != nil {
		m.fallbacks.WithLabelValues(label(k), reason).Inc()
	}
}

func (m *metrics) snapshots(k skiffv1.Kind, n int) {
	if m != nil {
		m.snaps.WithLabelValues(label(k)).Set(float64(n))
	}
}
