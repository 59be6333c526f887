package apiserver_test

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver"
	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func service(name, typ string, ports ...*skiffv1.ServicePort) *skiffv1.Service {
	if len(ports) == 0 {
		ports = []*skiffv1.ServicePort{{Port: 80}}
	}
	return &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &skiffv1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name}, Ports: ports},
	}
}

func smallServiceCIDR(c *apiserver.Config) { c.ServiceCIDR = "10.96.0.0/28" } // 14 addresses

// Two API servers on one etcd hand out ClusterIPs at the same time: no
// address twice, all inside the service CIDR, and when all 14 are gone the
// next create is refused with a message naming the field; a delete through
// one server frees an address the other then gives out.
func TestClusterIPAllocationAcrossServers(t *testing.T) {
	ctx := ctxT(t)
	a := apitest.Start(t, smallServiceCIDR)
	b := apitest.Start(t, smallServiceCIDR, func(c *apiserver.Config) { c.EtcdEndpoints = a.EtcdEndpoints; c.DataDir = t.TempDir() })
	clients := []*client.Client{a.Client, b.Client}
	var mu sync.Mutex
	got := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := clients[i%2].Services().Create(ctx, service(fmt.Sprintf("s%d", i), ""))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ip := s.GetSpec().GetClusterIp()
			if other, dup := got[ip]; dup {
				t.Errorf("%s given to %s and %s", ip, other, s.Metadata.Name)
			}
			got[ip] = s.Metadata.Name
		}()
	}
	wg.Wait()
	close(errs)
	if len(got) != 14 {
		t.Fatalf("%d services got addresses, want 14 (a /28 has 14)", len(got))
	}
	for err := range errs {
		wantCode(t, err, codes.ResourceExhausted, "spec.clusterIP: no free address left in the service CIDR 10.96.0.0/28")
	}
	pfx := netip.MustParsePrefix("10.96.0.0/28")
	for ip := range got {
		addr := netip.MustParseAddr(ip)
		if !pfx.Contains(addr) || ip == "10.96.0.0" || ip == "10.96.0.15" {
			t.Fatalf("%s is not a usable address of %s", ip, pfx)
		}
	}
	// Free one through a, take it through b (whose hint said full).
	var victim string
	for ip, name := range got {
		victim = ip
		if _, _, err := a.Client.Services().Delete(ctx, "default", name, client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		break
	}
	s, err := b.Client.Services().Create(ctx, service("late", ""))
	if err != nil {
		t.Fatalf("create after a delete: %v", err)
	}
	if s.Spec.ClusterIp != victim {
		t.Fatalf("got %s, want the freed %s", s.Spec.ClusterIp, victim)
	}
}

// A requested ClusterIP is honoured when free, refused when taken or out
// of range; None stays headless; a restarted server (a new one on the same
// etcd) does not hand out what is taken; an update without clusterIP keeps
// it, one that changes it is refused.
func TestRequestedClusterIP(t *testing.T) {
	ctx := ctxT(t)
	a := apitest.Start(t)
	want := service("fixed", "")
	want.Spec.ClusterIp = "10.96.0.10"
	s, err := a.Client.Services().Create(ctx, want)
	if err != nil || s.Spec.ClusterIp != "10.96.0.10" || len(s.Spec.ClusterIps) != 1 || s.Spec.ClusterIps[0] != "10.96.0.10" {
		t.Fatalf("requested IP: %v %v", s.GetSpec(), err)
	}
	b := apitest.Start(t, func(c *apiserver.Config) { c.EtcdEndpoints = a.EtcdEndpoints; c.DataDir = t.TempDir() })
	dup := service("dup", "")
	dup.Spec.ClusterIp = "10.96.0.10"
	_, err = b.Client.Services().Create(ctx, dup)
	wantCode(t, err, codes.AlreadyExists, "spec.clusterIP: 10.96.0.10 is already allocated")
	out := service("out", "")
	out.Spec.ClusterIp = "10.88.0.5"
	_, err = b.Client.Services().Create(ctx, out)
	wantCode(t, err, codes.InvalidArgument, "not an address of the service CIDR 10.96.0.0/12")
	hl := service("headless", "")
	hl.Spec.ClusterIp = "None"
	if s, err := b.Client.Services().Create(ctx, hl); err != nil || s.Spec.ClusterIp != "None" {
		t.Fatalf("headless: %v %v", s.GetSpec(), err)
	}
	// Re-applied without the allocated field: kept, same version.
	again := service("fixed", "")
	upd, err := b.Client.Services().Update(ctx, again)
	if err != nil || upd.Spec.ClusterIp != "10.96.0.10" || upd.Metadata.ResourceVersion != s.Metadata.ResourceVersion {
		t.Fatalf("update without clusterIP: %v %v (version %s, was %s)", upd.GetSpec(), err, upd.GetMetadata().GetResourceVersion(), s.Metadata.ResourceVersion)
	}
	moved := service("fixed", "")
	moved.Spec.ClusterIp = "10.96.0.11"
	_, err = b.Client.Services().Update(ctx, moved)
	wantCode(t, err, codes.InvalidArgument, "spec.clusterIP: \"10.96.0.10\" → \"10.96.0.11\": the field is immutable")
	// Deleted: the address is free for a new request.
	if _, _, err := a.Client.Services().Delete(ctx, "default", "fixed", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if s, err := b.Client.Services().Create(ctx, dup); err != nil || s.Spec.ClusterIp != "10.96.0.10" {
		t.Fatalf("after delete: %v %v", s.GetSpec(), err)
	}
}

// Node ports: allocated for NodePort services, a requested one honoured or
// refused when taken, given up when the type goes back to ClusterIP, and
// never the same twice.
func TestNodePorts(t *testing.T) {
	ctx := ctxT(t)
	a := apitest.Start(t)
	s, err := a.Client.Services().Create(ctx, service("np", "NodePort", &skiffv1.ServicePort{Name: "http", Port: 80}, &skiffv1.ServicePort{Name: "dns", Port: 53, Protocol: "UDP"}))
	if err != nil {
		t.Fatal(err)
	}
	p0, p1 := s.Spec.Ports[0].NodePort, s.Spec.Ports[1].NodePort
	if p0 < 30000 || p0 > 32767 || p1 < 30000 || p1 > 32767 || p0 == p1 {
		t.Fatalf("node ports %d, %d", p0, p1)
	}
	fixed := service("fixed", "NodePort", &skiffv1.ServicePort{Port: 80, NodePort: p0})
	_, err = a.Client.Services().Create(ctx, fixed)
	wantCode(t, err, codes.AlreadyExists, fmt.Sprintf("nodePort: %d is already allocated", p0))

	// Back to ClusterIP: the ports are released, and another service may
	// ask for one.
	back := service("np", "ClusterIP", &skiffv1.ServicePort{Name: "http", Port: 80}, &skiffv1.ServicePort{Name: "dns", Port: 53, Protocol: "UDP"})
	if u, err := a.Client.Services().Update(ctx, back); err != nil || u.Spec.Ports[0].NodePort != 0 {
		t.Fatalf("back to ClusterIP: %v %v", u.GetSpec(), err)
	}
	if f, err := a.Client.Services().Create(ctx, fixed); err != nil || f.Spec.Ports[0].NodePort != p0 {
		t.Fatalf("requested freed port: %v %v", f.GetSpec(), err)
	}
	// A NodePort service with externalTrafficPolicy Local edited into a
	// ClusterIP one: the policy goes with the type, as in Kubernetes.
	local := service("local", "NodePort", &skiffv1.ServicePort{Port: 80})
	local.Spec.ExternalTrafficPolicy = "Local"
	created, err := a.Client.Services().Create(ctx, local)
	if err != nil || created.Spec.ExternalTrafficPolicy != "Local" {
		t.Fatalf("NodePort with Local: %v %v", created.GetSpec(), err)
	}
	edited := proto.Clone(created).(*skiffv1.Service)
	edited.Spec.Type = "ClusterIP"
	edited.Spec.Ports[0].NodePort = 0
	if u, err := a.Client.Services().Update(ctx, edited); err != nil || u.Spec.ExternalTrafficPolicy != "" {
		t.Fatalf("edited to ClusterIP: %v %v", u.GetSpec(), err)
	}
	// ClusterIP to NodePort on update allocates.
	up := service("np", "NodePort", &skiffv1.ServicePort{Name: "http", Port: 80})
	u, err := a.Client.Services().Update(ctx, up)
	if err != nil || u.Spec.Ports[0].NodePort == 0 || u.Spec.Ports[0].NodePort == p0 {
		t.Fatalf("to NodePort: %v %v", u.GetSpec(), err)
	}
}

// A ClientIP service edited back to None (read, change, write: the stored
// object carries the defaulted timeout) loses its affinity config, as
// Kubernetes' defaulting drops it, instead of failing validation.
func TestSessionAffinityEditedToNone(t *testing.T) {
	ctx := ctxT(t)
	a := apitest.Start(t)
	s := service("sticky", "ClusterIP")
	s.Spec.SessionAffinity = "ClientIP"
	created, err := a.Client.Services().Create(ctx, s)
	if err != nil || created.Spec.GetSessionAffinityConfig().GetClientIp().GetTimeoutSeconds() != 10800 {
		t.Fatalf("ClientIP service: %v %v", created.GetSpec(), err)
	}
	edited := proto.Clone(created).(*skiffv1.Service)
	edited.Spec.SessionAffinity = "None"
	u, err := a.Client.Services().Update(ctx, edited)
	if err != nil {
		t.Fatalf("edited to None: %v", err)
	}
	if u.Spec.SessionAffinity != "None" || u.Spec.SessionAffinityConfig != nil {
		t.Fatalf("edited to None: affinity %q config %v, want None and no config", u.Spec.SessionAffinity, u.Spec.SessionAffinityConfig)
	}
}

// LoadBalancer services get a ClusterIP and node ports, as in Kubernetes;
// allocateLoadBalancerNodePorts false gives none; the status a load
// balancer wrote goes with the type.
func TestLoadBalancerServices(t *testing.T) {
	ctx := ctxT(t)
	a := apitest.Start(t)
	lb, err := a.Client.Services().Create(ctx, service("lb", "LoadBalancer", &skiffv1.ServicePort{Port: 80}))
	if err != nil {
		t.Fatal(err)
	}
	if lb.Spec.ClusterIp == "" || lb.Spec.Ports[0].NodePort < 30000 || !lb.Spec.GetAllocateLoadBalancerNodePorts() ||
		lb.Spec.ExternalTrafficPolicy != "Cluster" || lb.Spec.LoadBalancerClass != nil {
		t.Fatalf("LoadBalancer service: %v", lb.GetSpec())
	}
	none := service("none", "LoadBalancer", &skiffv1.ServicePort{Port: 80})
	none.Spec.AllocateLoadBalancerNodePorts = proto.Bool(false)
	if s, err := a.Client.Services().Create(ctx, none); err != nil || s.Spec.Ports[0].NodePort != 0 || s.Spec.ClusterIp == "" {
		t.Fatalf("allocateLoadBalancerNodePorts false: %v %v", s.GetSpec(), err)
	}

	lb.Status = &skiffv1.ServiceStatus{LoadBalancer: &skiffv1.LoadBalancerStatus{Ingress: []*skiffv1.LoadBalancerIngress{{Ip: "192.0.2.1", IpMode: proto.String("Proxy")}}}}
	lb, err = a.Client.Services().UpdateStatus(ctx, lb)
	if err != nil || len(lb.GetStatus().GetLoadBalancer().GetIngress()) != 1 {
		t.Fatalf("status: %v %v", lb.GetStatus(), err)
	}
	classed := proto.Clone(lb).(*skiffv1.Service)
	classed.Spec.LoadBalancerClass = proto.String("example.com/lb")
	_, err = a.Client.Services().Update(ctx, classed)
	wantCode(t, err, codes.InvalidArgument, "spec.loadBalancerClass: cannot change")

	// To ClusterIP: node ports released, addresses and the defaulted
	// allocateLoadBalancerNodePorts gone.
	back := proto.Clone(lb).(*skiffv1.Service)
	back.Spec.Type = "ClusterIP"
	back.Spec.Ports[0].NodePort = 0
	u, err := a.Client.Services().Update(ctx, back)
	if err != nil || u.GetStatus().GetLoadBalancer() != nil || u.Spec.AllocateLoadBalancerNodePorts != nil || u.Spec.ExternalTrafficPolicy != "" {
		t.Fatalf("back to ClusterIP: %v %v %v", u.GetSpec(), u.GetStatus(), err)
	}
	fixed := service("fixed", "NodePort", &skiffv1.ServicePort{Port: 80, NodePort: lb.Spec.Ports[0].NodePort})
	if _, err := a.Client.Services().Create(ctx, fixed); err != nil {
		t.Fatalf("the released node port: %v", err)
	}
}
