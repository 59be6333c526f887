package nodeagent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Pods' nameserver: --cluster-dns when given; else the ClusterIP of
// kube-system/kube-dns once the cluster has that Service; else the node
// bridge's address.
func TestClusterDNSDefault(t *testing.T) {
	s := apitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := &Agent{cfg: Config{ClusterDomain: "cluster.local"}, net: &fakeNetwork{}}
	a.services = newServicesInformer(s.Client, nil)
	go a.services.Run(ctx)
	if !a.services.WaitForSync(ctx) {
		t.Fatal("informer did not sync")
	}
	pod := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Namespace: "default", Name: "p"}, Spec: &skiffv1.PodSpec{}}
	nameserver := func() string {
		t.Helper()
		b, err := a.podResolvConf(pod)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if ns, ok := strings.CutPrefix(l, "nameserver "); ok {
				return ns
			}
		}
		t.Fatalf("no nameserver in\n%s", b)
		return ""
	}
	if got := nameserver(); got != "10.88.0.1" {
		t.Errorf("no kube-dns Service: nameserver %s, want the bridge's 10.88.0.1", got)
	}
	// Another Service of that name elsewhere does not count.
	for _, ns := range []string{"default", defaults.SystemNamespace} {
		_, err := s.Client.Services().Create(ctx, &skiffv1.Service{
			Metadata: &skiffv1.ObjectMeta{Namespace: ns, Name: defaults.DNSService},
			Spec:     &skiffv1.ServiceSpec{ClusterIp: map[string]string{"default": "10.96.0.20", defaults.SystemNamespace: "10.96.0.10"}[ns], Ports: []*skiffv1.ServicePort{{Name: "dns", Protocol: "UDP", Port: 53}}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for nameserver() != "10.96.0.10" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := nameserver(); got != "10.96.0.10" {
		t.Errorf("with kube-system/kube-dns: nameserver %s, want its ClusterIP 10.96.0.10", got)
	}
	a.cfg.ClusterDNS = "192.0.2.53"
	if got := nameserver(); got != "192.0.2.53" {
		t.Errorf("--cluster-dns 192.0.2.53: nameserver %s", got)
	}
	a.cfg.ClusterDNS = "not-an-ip"
	if _, err := a.podResolvConf(pod); err == nil || !strings.Contains(err.Error(), "not-an-ip") {
		t.Errorf("--cluster-dns not-an-ip: error %v, want one naming it", err)
	}
}
