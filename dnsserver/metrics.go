package dnsserver

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors.
type metrics struct {
	queries     *prometheus.CounterVec
	duration    prometheus.Histogram
	cacheHits   prometheus.Counter
	cacheMisses prometheus.Counter
	forwarded   prometheus.Counter
	stale       prometheus.Counter

	// byType holds the counters of the common types and rcodes, resolved
	// once: a label lookup per query costs more than answering it.
	byType [len(typeLabels)][rcodeSlots]atomic.Pointer[prometheus.Counter]
}

// typeLabels bounds the type label's cardinality: any other type is "other".
var typeLabels = [...]uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypePTR, dns.TypeSOA, dns.TypeNS,
	dns.TypeCNAME, dns.TypeMX, dns.TypeTXT, dns.TypeANY, dns.TypeHTTPS, 0}

const rcodeSlots = 24 // rcodes 0..23 (BADVERS is 16); others are "other"

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skiff_dns_queries_total", Help: "DNS queries answered, by query type and response code.",
		}, []string{"type", "rcode"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "skiff_dns_request_duration_seconds", Help: "Time from reading a query to sending its answer.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skiff_dns_cache_hits_total", Help: "Forwarded names answered from the cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skiff_dns_cache_misses_total", Help: "Forwarded names not in the cache.",
		}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skiff_dns_forwarded_total", Help: "Queries sent to an upstream server.",
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skiff_dns_stale_answers_total", Help: "Cluster answers served although a newer event had been applied (must stay 0).",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.queries, m.duration, m.cacheHits, m.cacheMisses, m.forwarded, m.stale} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("dnsserver: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func typeSlot(qtype uint16) int {
	for i, t := range typeLabels[:len(typeLabels)-1] {
		if t == qtype {
			return i
		}
	}
	return len(typeLabels) - 1
}

func (m *metrics) count(qtype uint16, rcode int) {
	ts := typeSlot(qtype)
	if rcode < 0 || rcode >= rcodeSlots {
		m.queries.WithLabelValues(typeName(ts), "other").Inc()
		return
	}
	slot := &m.byType[ts][rcode]
	c := slot.Load()
	if c == nil {
		// First of its kind; two racing workers resolve the same child.
		name, ok := dns.RcodeToString[rcode]
		if !ok {
			name = fmt.Sprint(rcode)
		}
		child := m.queries.WithLabelValues(typeName(ts), name)
		c = &child
		slot.Store(c)
	}
	(*c).Inc()
}

func typeName(slot int) string {
	if typeLabels[slot] == 0 {
		return "other"
	}
	return dns.TypeToString[typeLabels[slot]]
}

// metricsHandler heads the chain: it counts every answer by type and
// rcode and times it. A query that gets no answer (dropped) is not counted.
type metricsHandler struct {
	m    *metrics
	next handler
}

func (h *metricsHandler) name() string { return "metrics" }

func (h *metricsHandler) serveDNS(ctx context.Context, w responseWriter, r *request) {
	h.next.serveDNS(ctx, &recorder{w: w, m: h.m}, r)
}

type recorder struct {
	w responseWriter
	m *metrics
}

func (rec *recorder) write(r *request, b []byte) {
	rec.m.count(r.qtype, rcodeOf(b))
	rec.m.duration.Observe(time.Since(r.start).Seconds())
	rec.w.write(r, b)
}
