package manifest

import (
	"strings"
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A v1 LoadBalancer Service's fields pass through under Kubernetes'
// names, both ways (a manifest's status is not applied, but printed);
// loadBalancerIP is refused by name.
func TestKubernetesLoadBalancerService(t *testing.T) {
	objs, err := Decode("lb.yaml", []byte(`apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/lb
  allocateLoadBalancerNodePorts: false
  externalIPs: [192.0.2.10]
  selector: {app: web}
  ports: [{port: 80}]
status:
  loadBalancer:
    ingress: [{ip: 192.0.2.1, ipMode: Proxy}]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := objs[0].Obj.(*skiffv1.Service)
	if s.Spec.GetLoadBalancerClass() != "example.com/lb" || s.Spec.AllocateLoadBalancerNodePorts == nil || s.Spec.GetAllocateLoadBalancerNodePorts() ||
		len(s.Spec.ExternalIps) != 1 {
		t.Fatalf("decoded %v", s.Spec)
	}
	ipMode := "Proxy"
	s.Status = &skiffv1.ServiceStatus{LoadBalancer: &skiffv1.LoadBalancerStatus{Ingress: []*skiffv1.LoadBalancerIngress{{Ip: "192.0.2.1", IpMode: &ipMode}}}}
	out, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"loadBalancerClass":"example.com/lb"`, `"allocateLoadBalancerNodePorts":false`, `"externalIPs":["192.0.2.10"]`, `"loadBalancer":{"ingress":[{"ip":"192.0.2.1","ipMode":"Proxy"}]}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("encoded without %q:\n%s", want, out)
		}
	}
	_, err = Decode("lb.yaml", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer, loadBalancerIP: 192.0.2.5, ports: [{port: 80}]}\n"))
	if err == nil || !strings.Contains(err.Error(), "spec.loadBalancerIP is not supported by skiff yet") {
		t.Fatalf("loadBalancerIP: %v", err)
	}
}
