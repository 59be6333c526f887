package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func lbService(name string, port int32, class *string) *skiffv1.Service {
	return &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &skiffv1.ServiceSpec{Type: skiffv1.ServiceTypeLoadBalancer, LoadBalancerClass: class,
			Selector: map[string]string{"app": name}, Ports: []*skiffv1.ServicePort{{Name: "http", Port: port}}},
	}
}

// ingressOf is a service's status addresses, "ip/mode" each.
func ingressOf(ctx context.Context, c *client.Client, name string) ([]string, string, error) {
	s, err := c.Services().Get(ctx, "default", name)
	if err != nil {
		return nil, "", err
	}
	var out []string
	for _, in := range s.GetStatus().GetLoadBalancer().GetIngress() {
		out = append(out, in.GetIp()+"/"+in.GetIpMode())
	}
	return out, s.GetMetadata().GetResourceVersion(), nil
}

func waitIngress(ctx context.Context, t *testing.T, c *client.Client, name string, want ...string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s's ingress %v", name, want), func() (bool, error) {
		got, _, err := ingressOf(ctx, c, name)
		if err != nil {
			return false, err
		}
		return slices.Equal(got, want), fmt.Errorf("ingress %v", got)
	})
}

// skiff's load balancer gives a LoadBalancer service the InternalIP of
// every Ready, schedulable node, follows nodes cordoned and uncordoned,
// writes nothing when nothing changed, leaves a service of another class
// alone, and lets a later service wanting a port an older one holds wait,
// with a Warning event naming the older, until that one goes.
func TestServiceLBStatus(t *testing.T) {
	ctx := ctxT(t)
	srv := apitest.Start(t)
	c := srv.Client
	nodes := startFakeNodes(t, c, "n1", "n2", "n3")
	for i, n := range []string{"n1", "n2", "n3"} {
		if _, err := c.Nodes().ModifyStatus(ctx, "", n, func(cur *skiffv1.Node) error {
			cur.Status.Addresses = []*skiffv1.NodeAddress{{Type: "InternalIP", Address: fmt.Sprintf("192.0.2.%d", 3-i)}, {Type: "Hostname", Address: n}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// n3 is not ready: its agent stopped and reported so.
	nodes.set("n3", false)
	time.Sleep(500 * time.Millisecond) // a heartbeat under way lands first
	if _, err := c.Nodes().ModifyStatus(ctx, "", "n3", func(cur *skiffv1.Node) error {
		cur.Status.Conditions = []*skiffv1.Condition{{Type: "Ready", Status: "False", Reason: "AgentStopped"}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	startManager(t, srv)
	for _, s := range []*skiffv1.Service{lbService("older", 80, nil), lbService("foreign", 80, proto.String("example.com/lb"))} {
		if _, err := c.Services().Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	waitIngress(ctx, t, c, "older", "192.0.2.2/Proxy", "192.0.2.3/Proxy")

	// Nothing changes while the nodes keep beating: no write.
	_, rv, err := ingressOf(ctx, c, "older")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if _, again, _ := ingressOf(ctx, c, "older"); again != rv {
		t.Fatalf("the service was written again (version %s → %s) with nothing changed", rv, again)
	}

	// A later service on the same port waits, told why.
	if _, err := c.Services().Create(ctx, lbService("younger", 80, proto.String(skiffv1.LoadBalancerClassSkiff))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a Warning event about younger naming older", func() (bool, error) {
		evs, _, err := c.Events().List(ctx, client.ListOptions{Namespace: "default"})
		for _, e := range evs {
			if e.GetInvolvedObject().GetName() == "younger" && e.GetType() == "Warning" && strings.Contains(e.GetMessage(), "port 80/TCP is taken by the load balancer of service default/older") {
				return true, nil
			}
		}
		return false, err
	})

	// Cordoned: n2 leaves the addresses; uncordoned, it comes back.
	cordon := func(v bool) {
		if _, err := c.Nodes().Modify(ctx, "", "n2", func(n *skiffv1.Node) error { n.Spec.Unschedulable = v; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	cordon(true)
	waitIngress(ctx, t, c, "older", "192.0.2.3/Proxy")
	cordon(false)
	waitIngress(ctx, t, c, "older", "192.0.2.2/Proxy", "192.0.2.3/Proxy")
	if got, _, err := ingressOf(ctx, c, "younger"); err != nil || len(got) != 0 {
		t.Fatalf("younger, waiting for port 80: ingress %v (%v)", got, err)
	}

	// The older goes: the younger takes the port.
	if _, _, err := c.Services().Delete(ctx, "default", "older", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitIngress(ctx, t, c, "younger", "192.0.2.2/Proxy", "192.0.2.3/Proxy")
	if got, _, err := ingressOf(ctx, c, "foreign"); err != nil || len(got) != 0 {
		t.Fatalf("a service of another class got ingress %v (%v)", got, err)
	}
}
