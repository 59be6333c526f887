package nodeagent

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// usageCollector reads the running containers' cgroups every interval,
// keeps the last reading for /metrics (cAdvisor's metric names, which
// dashboards know) and reports it to the API server's Usage service — in
// memory there, never an etcd write per reading.
type usageCollector struct {
	a *Agent

	mu   sync.Mutex
	last map[string]containerUsage // by runtime container ID
	at   time.Time

	cpu, mem, running *prometheus.Desc
}

type containerUsage struct {
	namespace, pod, podUID, container string
	cpuNs, workingSet                 uint64
	cores                             float64
}

func newUsageCollector(a *Agent) *usageCollector {
	labels := []string{"namespace", "pod", "container"}
	return &usageCollector{
		a:       a,
		last:    map[string]containerUsage{},
		cpu:     prometheus.NewDesc("container_cpu_usage_seconds_total", "Cumulative CPU time consumed by the container.", labels, nil),
		mem:     prometheus.NewDesc("container_memory_working_set_bytes", "The container's memory working set.", labels, nil),
		running: prometheus.NewDesc("skiff_agent_running_pods", "Pods with a worker on this node.", nil, nil),
	}
}

func (u *usageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- u.cpu
	ch <- u.mem
	ch <- u.running
}

func (u *usageCollector) Collect(ch chan<- prometheus.Metric) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.last {
		ch <- prometheus.MustNewConstMetric(u.cpu, prometheus.CounterValue, float64(c.cpuNs)/1e9, c.namespace, c.pod, c.container)
		ch <- prometheus.MustNewConstMetric(u.mem, prometheus.GaugeValue, float64(c.workingSet), c.namespace, c.pod, c.container)
	}
	ch <- prometheus.MustNewConstMetric(u.running, prometheus.GaugeValue, float64(u.a.runningPods()))
}

func (u *usageCollector) run(ctx context.Context) {
	t := time.NewTicker(u.a.cfg.UsageInterval)
	defer t.Stop()
	reportable := true
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			report := u.read(now)
			if !reportable {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, u.a.cfg.UsageInterval)
			_, err := skiffv1.NewUsageClient(u.a.cfg.Client.Conn()).Report(rctx, report)
			cancel()
			if status.Code(err) == codes.Unimplemented {
				reportable = false // a server without the usage API
			} else if err != nil {
				u.a.log.Debug("usage report", "err", err)
			}
		}
	}
}

// read takes one reading of every running pod container.
func (u *usageCollector) read(now time.Time) *skiffv1.UsageReport {
	states, err := u.a.runtime.List()
	if err != nil {
		return &skiffv1.UsageReport{Node: u.a.cfg.NodeName, Time: timestamppb.New(now)}
	}
	pods := map[string]*skiffv1.Pod{}
	for _, p := range u.a.pods.List() {
		pods[p.Metadata.Uid] = p
	}
	u.mu.Lock()
	prev, prevAt := u.last, u.at
	u.mu.Unlock()
	next := map[string]containerUsage{}
	byPod := map[string]*skiffv1.PodUsage{}
	node := &skiffv1.ResourceUsage{}
	for _, s := range states {
		if s.Status != runtime.StatusRunning {
			continue
		}
		uid, name := s.SandboxID, s.Name
		pod := pods[uid]
		if name == "" || pod == nil {
			continue
		}
		st, err := u.a.runtime.Stats(s.ID)
		if err != nil {
			continue
		}
		c := containerUsage{namespace: pod.Metadata.Namespace, pod: pod.Metadata.Name, podUID: uid, container: name, cpuNs: st.CPUUsageNs, workingSet: st.MemoryWorkingSet}
		if p, ok := prev[s.ID]; ok && !prevAt.IsZero() && st.CPUUsageNs >= p.cpuNs {
			c.cores = float64(st.CPUUsageNs-p.cpuNs) / float64(now.Sub(prevAt).Nanoseconds())
		}
		next[s.ID] = c
		pu := byPod[uid]
		if pu == nil {
			pu = &skiffv1.PodUsage{Namespace: c.namespace, Name: c.pod, Uid: uid, Usage: &skiffv1.ResourceUsage{}}
			byPod[uid] = pu
		}
		cu := &skiffv1.ResourceUsage{CpuUsageNanoseconds: c.cpuNs, CpuCores: c.cores, MemoryWorkingSetBytes: c.workingSet}
		pu.Containers = append(pu.Containers, &skiffv1.ContainerUsage{Name: name, Usage: cu})
		addUsage(pu.Usage, cu)
		addUsage(node, cu)
	}
	u.mu.Lock()
	u.last, u.at = next, now
	u.mu.Unlock()
	report := &skiffv1.UsageReport{Node: u.a.cfg.NodeName, Time: timestamppb.New(now), NodeUsage: node}
	for _, p := range byPod {
		report.Pods = append(report.Pods, p)
	}
	return report
}

func addUsage(sum, u *skiffv1.ResourceUsage) {
	sum.CpuUsageNanoseconds += u.CpuUsageNanoseconds
	sum.CpuCores += u.CpuCores
	sum.MemoryWorkingSetBytes += u.MemoryWorkingSetBytes
}
