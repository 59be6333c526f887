package controlplane

import (
	"testing"
	"time"
)

// The list lines registrations up with etcd members by name.
func TestMergeServers(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	regs := []serverRegistration{
		{Name: "a", Address: "10.0.0.1:6443", Started: start, Metrics: "10.0.0.1:9090", DNS: "10.0.0.1:53"},
		{Name: "ext", Address: "10.0.0.9:6443", Started: start, Metrics: "10.0.0.9:9090"}, // on an external etcd: no member
		parseRegistration("10.0.0.7:6443", []byte("10.0.0.7:6443")),                       // an older server's bare address
	}
	members := []member{
		{id: 0xa1, name: "a"},
		{id: 0xb2, name: "b"}, // its server is not running
		{id: 0xc3, peerURLs: []string{"https://10.0.0.3:2380"}}, // added, never started
	}
	got := mergeServers(regs, members, 0xb2)
	type row struct {
		name, addr, member, health string
		leader                     bool
	}
	want := []row{
		{"", "10.0.0.7:6443", "", ServerHealthy, false},
		{"a", "10.0.0.1:6443", "a1", ServerHealthy, false},
		{"b", "", "b2", ServerDown, true},
		{"ext", "10.0.0.9:6443", "", ServerHealthy, false},
		{"https://10.0.0.3:2380", "", "c3", ServerUnstarted, false},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d servers, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if (row{g.GetName(), g.GetAddress(), g.GetEtcdMember(), g.GetHealth(), g.GetLeader()}) != w {
			t.Errorf("server %d: got %v, want %+v", i, g, w)
		}
	}
	// The registrations' metrics and DNS addresses are listed.
	if a := got[1]; a.GetMetricsAddress() != "10.0.0.1:9090" || a.GetDnsAddress() != "10.0.0.1:53" {
		t.Errorf("server a: metrics %q, dns %q", a.GetMetricsAddress(), a.GetDnsAddress())
	}
	if ext := got[3]; ext.GetMetricsAddress() != "10.0.0.9:9090" || ext.GetDnsAddress() != "" {
		t.Errorf("server ext: metrics %q, dns %q", ext.GetMetricsAddress(), ext.GetDnsAddress())
	}
}
