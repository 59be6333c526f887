package apiserver

import (
	"context"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// UsageService keeps the agents' latest usage readings in memory, like
// Kubernetes' metrics-server: they are a few seconds old at best, lost on
// restart and refilled by the next reports, so etcd never sees them. Each
// node's newest report replaces its previous one, and a report older than
// the window is dropped, so a pod that stopped, and a node that went
// silent, vanish from the answers on their own.
type UsageService struct {
	skiffv1.UnimplementedUsageServer
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	reports map[string]usageEntry // by node name
}

type usageEntry struct {
	received time.Time // on the server's clock: agents' clocks may be off
	report   *skiffv1.UsageReport
}

// NewUsageService keeps readings for window (60s if zero).
func NewUsageService(window time.Duration) *UsageService {
	if window <= 0 {
		window = time.Minute
	}
	return &UsageService{window: window, now: time.Now, reports: map[string]usageEntry{}}
}

// Register adds the service to a gRPC server (Config.RegisterServices).
func (u *UsageService) Register(s *grpc.Server) { skiffv1.RegisterUsageServer(s, u) }

// Report stores a node's readings, replacing its previous report.
func (u *UsageService) Report(_ context.Context, r *skiffv1.UsageReport) (*skiffv1.UsageReportResponse, error) {
	if r.GetNode() == "" {
		return nil, invalid("node: required")
	}
	now := u.now()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reports[r.GetNode()] = usageEntry{received: now, report: proto.Clone(r).(*skiffv1.UsageReport)}
	u.pruneLocked(now)
	return &skiffv1.UsageReportResponse{}, nil
}

// Get returns the readings still within the window, for one namespace
// (or all). A pod reported by two nodes (it moved) is answered once, from
// the newer report.
func (u *UsageService) Get(_ context.Context, q *skiffv1.UsageQuery) (*skiffv1.UsageSnapshot, error) {
	now := u.now()
	u.mu.Lock()
	u.pruneLocked(now)
	entries := make([]usageEntry, 0, len(u.reports))
	for _, e := range u.reports {
		entries = append(entries, e)
	}
	u.mu.Unlock()
	// Oldest first, so a newer reading of a pod replaces an older one.
	sort.Slice(entries, func(i, j int) bool { return entries[i].received.Before(entries[j].received) })
	snap := &skiffv1.UsageSnapshot{}
	pods := map[string]*skiffv1.PodUsage{}
	for _, e := range entries {
		r := e.report
		snap.Nodes = append(snap.Nodes, &skiffv1.NodeUsage{Name: r.GetNode(), Time: r.GetTime(), Usage: r.GetNodeUsage()})
		for _, p := range r.GetPods() {
			if q.GetNamespace() != "" && p.GetNamespace() != q.GetNamespace() {
				continue
			}
			pods[p.GetNamespace()+"/"+p.GetName()] = p
		}
	}
	keys := make([]string, 0, len(pods))
	for k := range pods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		snap.Pods = append(snap.Pods, pods[k])
	}
	sort.Slice(snap.Nodes, func(i, j int) bool { return snap.Nodes[i].GetName() < snap.Nodes[j].GetName() })
	return snap, nil
}

func (u *UsageService) pruneLocked(now time.Time) {
	for node, e := range u.reports {
		if now.Sub(e.received) > u.window {
			delete(u.reports, node)
		}
	}
}
