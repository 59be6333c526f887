package cli

import (
	"strings"
	"testing"
)

func TestDescribeGolden(t *testing.T) {
	r := newRunner(t)
	fixture(t, r)
	for _, tc := range []struct{ name, args string }{
		{"describe_pod_web", "describe pod web"},
		{"describe_pod_crash", "describe po crash"},
		{"describe_pod_old", "describe pod old"},
		{"describe_node", "describe node node1"},
		{"describe_node_tainted", "describe no node2"},
		{"describe_service", "describe svc web"},
		{"describe_endpoints", "describe ep many"},
		{"describe_volume", "describe vol data"},
		{"describe_claim", "describe pvc logs"},
		{"describe_pv", "describe pv disk-1"},
		{"describe_replicaset", "describe rs web"},
		{"describe_autoscaler", "describe as web"},
		{"describe_namespace", "describe ns team"},
		{"describe_pod_other_namespace", "describe pod api -n team"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, r.ok(strings.Fields(tc.args)...))
		})
	}
	res := r.run("describe", "pod", "nope")
	if res.e == nil || res.err != "error: pod \"nope\" not found in namespace \"default\"\n" {
		t.Errorf("missing: %+v", res)
	}
}
