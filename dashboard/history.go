package dashboard

import (
	"sync"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// history keeps what each autoscaler reported over the last window, from
// its status as the watch delivers it, for the chart of desired and
// current replicas against measured CPU.
type history struct {
	mu     sync.Mutex
	window time.Duration
	series map[string][]sample
}

type sample struct {
	Time    time.Time `json:"time"`
	Current int32     `json:"current"`
	Desired int32     `json:"desired"`
	// CPU is the measured utilisation in percent of the requests; nil
	// when the autoscaler had no measurement.
	CPU *int32 `json:"cpuPercent,omitempty"`
}

// maxSamples bounds a series (the controller writes an autoscaler's
// status every sync at most, 15 s by default).
const maxSamples = 3600

func newHistory(window time.Duration) *history {
	return &history{window: window, series: map[string][]sample{}}
}

func (h *history) observe(obj skiffv1.Resource, now time.Time) {
	as, ok := obj.(*skiffv1.Autoscaler)
	if !ok || as.GetStatus() == nil {
		return
	}
	st := as.GetStatus()
	s := sample{Time: now.UTC(), Current: st.GetCurrentReplicas(), Desired: st.GetDesiredReplicas()}
	if st.CurrentCpuUtilizationPercent != nil {
		v := st.GetCurrentCpuUtilizationPercent()
		s.CPU = &v
	}
	key := client.KeyOf(as)
	h.mu.Lock()
	defer h.mu.Unlock()
	series := append(h.trim(h.series[key], now), s)
	if len(series) > maxSamples {
		series = series[len(series)-maxSamples:]
	}
	h.series[key] = series
}

func (h *history) trim(series []sample, now time.Time) []sample {
	cut := 0
	for cut < len(series) && series[cut].Time.Before(now.Add(-h.window)) {
		cut++
	}
	return series[cut:]
}

// get returns a copy of an autoscaler's samples within the window.
func (h *history) get(namespace, name string, now time.Time) []sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sample{}, h.trim(h.series[client.Key(namespace, name)], now)...)
}

// forget drops the series of a deleted autoscaler.
func (h *history) forget(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.series, key)
}
