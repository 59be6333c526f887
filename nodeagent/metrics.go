package nodeagent

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	podStart    prometheus.Histogram
	restarts    prometheus.Counter
	pulls       *prometheus.CounterVec
	pullSeconds prometheus.Histogram
	panics      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		podStart: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "skiff_agent_pod_start_duration_seconds",
			Help:    "Time from a pod's creation to all its containers running, as seen by the agent.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skiff_agent_container_restarts_total",
			Help: "Containers restarted by the agent.",
		}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_agent_image_pulls_total",
			Help: "Image pulls by result.",
		}, []string{"result"}),
		pullSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "skiff_agent_image_pull_duration_seconds",
			Help:    "Time to pull an image.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skiff_agent_panics_total",
			Help: "Logs and exec calls whose handler panicked; each failed with Internal and was logged with its stack.",
		}),
	}
	reg.MustRegister(m.podStart, m.restarts, m.pulls, m.pullSeconds, m.panics)
	return m
}
