package cluster

import (
	"encoding/json"
	"net"
	"sort"
	"strconv"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// TargetGroup is one entry of a Prometheus file_sd file.
type TargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// PrometheusTargets is a file_sd target list for a cluster: the server's
// /metrics (API server, scheduler, controllers, DNS and registry share it)
// and every node agent's, at the node's InternalIP and agentPort. Each
// group carries a "component" label and agents a "node" label.
func PrometheusTargets(nodes []*skiffv1.Node, serverMetrics string, agentPort int) []TargetGroup {
	var out []TargetGroup
	if serverMetrics != "" {
		out = append(out, TargetGroup{Targets: []string{serverMetrics}, Labels: map[string]string{"component": "server"}})
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].GetMetadata().GetName() < nodes[j].GetMetadata().GetName() })
	for _, n := range nodes {
		ip := peerAddress(n)
		if ip == "" {
			continue
		}
		out = append(out, TargetGroup{
			Targets: []string{net.JoinHostPort(ip, strconv.Itoa(agentPort))},
			Labels:  map[string]string{"component": "agent", "node": n.GetMetadata().GetName()},
		})
	}
	return out
}

// MarshalTargets renders target groups as a file_sd JSON file.
func MarshalTargets(groups []TargetGroup) ([]byte, error) {
	if groups == nil {
		groups = []TargetGroup{}
	}
	data, err := json.MarshalIndent(groups, "", "  ")
	return append(data, '\n'), err
}

func peerAddress(n *skiffv1.Node) string {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == "InternalIP" {
			return a.GetAddress()
		}
	}
	return ""
}
