package apiserver

import (
	"context"
	"testing"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestUsageServiceWindowAndMoves(t *testing.T) {
	ctx := context.Background()
	u := NewUsageService(time.Minute)
	now := time.Unix(1000, 0)
	u.now = func() time.Time { return now }
	pod := func(ns, name string, cores float64) *skiffv1.PodUsage {
		return &skiffv1.PodUsage{Namespace: ns, Name: name, Usage: &skiffv1.ResourceUsage{CpuCores: cores}}
	}
	report := func(node string, pods ...*skiffv1.PodUsage) {
		t.Helper()
		if _, err := u.Report(ctx, &skiffv1.UsageReport{Node: node, NodeUsage: &skiffv1.ResourceUsage{CpuCores: 1}, Pods: pods}); err != nil {
			t.Fatal(err)
		}
	}
	report("n1", pod("a", "web-1", 0.5), pod("b", "db-1", 0.1))
	now = now.Add(30 * time.Second)
	report("n2", pod("a", "web-1", 0.7)) // moved: the newer reading wins

	snap, err := u.Get(ctx, &skiffv1.UsageQuery{Namespace: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Pods) != 1 || snap.Pods[0].GetUsage().GetCpuCores() != 0.7 {
		t.Fatalf("namespace a: %v, want web-1 once at 0.7 cores", snap.Pods)
	}
	if len(snap.Nodes) != 2 {
		t.Fatalf("nodes: %d, want 2", len(snap.Nodes))
	}
	now = now.Add(45 * time.Second) // n1's report is 75s old now
	snap, _ = u.Get(ctx, &skiffv1.UsageQuery{})
	if len(snap.Nodes) != 1 || snap.Nodes[0].GetName() != "n2" || len(snap.Pods) != 1 {
		t.Fatalf("after the window: nodes %v pods %v; want only n2's", snap.Nodes, snap.Pods)
	}
	if _, err := u.Report(ctx, &skiffv1.UsageReport{}); err == nil {
		t.Fatal("a report without a node must be refused")
	}
}
