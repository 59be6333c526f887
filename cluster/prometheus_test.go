package cluster

import (
	"encoding/json"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Every Healthy server that registered a metrics address is a target,
// named; a Down or Unstarted one, or one serving no metrics, is not.
func TestPrometheusTargetsOfSeveralServers(t *testing.T) {
	list := []*skiffv1.ServerInfo{
		{Name: "server-3", Address: "172.31.9.3:6443", Health: "Healthy", MetricsAddress: "172.31.9.3:9090"},
		{Name: "server-1", Address: "", Health: "Down", MetricsAddress: ""},
		{Name: "server-2", Address: "172.31.9.2:6443", Health: "Healthy", MetricsAddress: "172.31.9.2:9090"},
		{Name: "no-metrics", Address: "172.31.9.4:6443", Health: "Healthy"},
		{Name: "https://172.31.9.5:2380", Health: "Unstarted"},
	}
	nodes := []*skiffv1.Node{
		{Metadata: &skiffv1.ObjectMeta{Name: "node-2"}, Status: &skiffv1.NodeStatus{Addresses: []*skiffv1.NodeAddress{{Type: "InternalIP", Address: "172.31.9.12"}}}},
		{Metadata: &skiffv1.ObjectMeta{Name: "node-1"}, Status: &skiffv1.NodeStatus{Addresses: []*skiffv1.NodeAddress{{Type: "InternalIP", Address: "172.31.9.11"}}}},
		{Metadata: &skiffv1.ObjectMeta{Name: "no-address"}},
	}
	data, err := MarshalTargets(PrometheusTargets(nodes, ServerTargets(list), 10250))
	if err != nil {
		t.Fatal(err)
	}
	var got []TargetGroup
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := []struct{ target, component, name string }{
		{"172.31.9.2:9090", "server", "server-2"},
		{"172.31.9.3:9090", "server", "server-3"},
		{"172.31.9.11:10250", "agent", "node-1"},
		{"172.31.9.12:10250", "agent", "node-2"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d groups, want %d:\n%s", len(got), len(want), data)
	}
	for i, w := range want {
		g := got[i]
		name := g.Labels["server"]
		if w.component == "agent" {
			name = g.Labels["node"]
		}
		if len(g.Targets) != 1 || g.Targets[0] != w.target || g.Labels["component"] != w.component || name != w.name {
			t.Errorf("group %d: %+v, want %+v", i, g, w)
		}
	}
	// --server-metrics: one unnamed server.
	one := PrometheusTargets(nil, []ServerTarget{{Address: "10.0.0.1:9090"}}, 10250)
	if len(one) != 1 || one[0].Targets[0] != "10.0.0.1:9090" || one[0].Labels["component"] != "server" || one[0].Labels["server"] != "" {
		t.Errorf("one server by address: %+v", one)
	}
}
