package servicelb

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func svc(name string, age int64, class *string, ports ...string) *skiffv1.Service {
	s := &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: name, CreationTimestamp: timestamppb.New(time.Unix(1000-age, 0))},
		Spec:     &skiffv1.ServiceSpec{Type: skiffv1.ServiceTypeLoadBalancer, LoadBalancerClass: class},
	}
	for _, p := range ports {
		num, protocol, _ := strings.Cut(p, "/")
		n, _ := strconv.Atoi(num)
		s.Spec.Ports = append(s.Spec.Ports, &skiffv1.ServicePort{Port: int32(n), Protocol: protocol})
	}
	return s
}

// The oldest service takes its ports; a later one with any port taken
// takes none (so holds none of its others); a port of another protocol
// is another port; services of another class and of other types do not
// take ports.
func TestAssign(t *testing.T) {
	clusterIP := svc("plain", 9, nil, "443/TCP")
	clusterIP.Spec.Type = skiffv1.ServiceTypeClusterIP
	got := Assign([]*skiffv1.Service{
		svc("c", 1, nil, "8443/TCP"),
		svc("b", 5, nil, "443/TCP", "80/TCP"),
		svc("a", 10, nil, "80/TCP"),
		svc("dns", 4, nil, "80/UDP"),
		svc("other", 20, proto.String("example.com/lb"), "8443/TCP", "443/TCP"),
		svc("d", 0, proto.String(skiffv1.LoadBalancerClassSkiff), "443/TCP"),
		clusterIP,
	})
	want := map[string]Conflict{"default/b": {Port: "80/TCP", Holder: "default/a"}}
	if len(got) != len(want) || got["default/b"] != want["default/b"] {
		t.Fatalf("Assign: %v, want %v (c and d free: b holds nothing)", got, want)
	}
}

// Only Ready, schedulable nodes' IPv4 InternalIPs, sorted, once each.
func TestNodeAddresses(t *testing.T) {
	node := func(name, ip, ready string, cordoned bool) *skiffv1.Node {
		return &skiffv1.Node{
			Metadata: &skiffv1.ObjectMeta{Name: name},
			Spec:     &skiffv1.NodeSpec{Unschedulable: cordoned},
			Status: &skiffv1.NodeStatus{
				Addresses:  []*skiffv1.NodeAddress{{Type: "Hostname", Address: name}, {Type: "InternalIP", Address: ip}},
				Conditions: []*skiffv1.Condition{{Type: skiffv1.NodeReady, Status: ready}},
			},
		}
	}
	got := NodeAddresses([]*skiffv1.Node{
		node("b", "10.0.0.9", "True", false), node("a", "10.0.0.10", "True", false), node("dup", "10.0.0.9", "True", false),
		node("down", "10.0.0.1", "Unknown", false), node("cordoned", "10.0.0.2", "True", true), node("v6", "fd00::1", "True", false),
	})
	if len(got) != 2 || got[0].String() != "10.0.0.9" || got[1].String() != "10.0.0.10" {
		t.Fatalf("NodeAddresses: %v, want [10.0.0.9 10.0.0.10]", got)
	}
}
