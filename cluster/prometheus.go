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

// ServerTarget is one server's /metrics HOST:PORT (API server,
// scheduler, controllers, DNS and registry share it) and its name, if
// known.
type ServerTarget struct {
	Name    string
	Address string
}

// ServerTargets are the metrics addresses of the Healthy servers of a
// server list (as `skiff server list` gets it), each server's as it
// registered it, sorted by name; a server without one serves none.
func ServerTargets(servers []*skiffv1.ServerInfo) []ServerTarget {
	var out []ServerTarget
	seen := map[string]bool{}
	for _, s := range servers {
		if s.GetHealth() != "Healthy" || s.GetMetricsAddress() == "" || seen[s.GetMetricsAddress()] {
			continue
		}
		seen[s.GetMetricsAddress()] = true
		out = append(out, ServerTarget{Name: s.GetName(), Address: s.GetMetricsAddress()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Address < out[j].Address
	})
	return out
}

// PrometheusTargets is a file_sd target list for a cluster: each server's
// /metrics and every node agent's, at the node's InternalIP and
// agentPort. Each group carries a "component" label, servers a "server"
// label (when named) and agents a "node" label.
func PrometheusTargets(nodes []*skiffv1.Node, servers []ServerTarget, agentPort int) []TargetGroup {
	var out []TargetGroup
	for _, s := range servers {
		labels := map[string]string{"component": "server"}
		if s.Name != "" {
			labels["server"] = s.Name
		}
		out = append(out, TargetGroup{Targets: []string{s.Address}, Labels: labels})
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
