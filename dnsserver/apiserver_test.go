package dnsserver

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skiff-sh/skiff/apiserver/apitest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// eventually retries check until it passes or 30 s pass: watch events take
// a moment to arrive, but then the answer is there at once.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startEndpointsController runs the controllers against api until the test
// ends: DNS follows the Endpoints objects they keep. Node n1 exists for
// pods bound to it, and is never declared gone.
func startEndpointsController(t *testing.T, api *apitest.Server) {
	t.Helper()
	if _, err := api.Client.Nodes().Create(context.Background(), &skiffv1.Node{Metadata: &skiffv1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	m, err := controller.New(controller.Config{
		Client: api.Client, Logger: slog.New(slog.DiscardHandler), Metrics: prometheus.NewRegistry(),
		NodeGracePeriod: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("controllers: %v", err)
		}
	})
}

func newPod(name string, labels map[string]string) *skiffv1.Pod {
	return &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec:     &skiffv1.PodSpec{Containers: []*skiffv1.Container{{Name: "main", Image: "busybox:1"}}},
	}
}

// setStatus gives a pod an IP and a Ready condition.
func setStatus(t *testing.T, c *client.Client, name, ip string, ready bool) {
	t.Helper()
	_, err := c.Pods().ModifyStatus(context.Background(), "default", name, func(p *skiffv1.Pod) error {
		st := "False"
		if ready {
			st = "True"
		}
		p.Status = &skiffv1.PodStatus{Phase: "Running", PodIp: ip, Conditions: []*skiffv1.Condition{{Type: "Ready", Status: st}}}
		return nil
	})
	if err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
}

func TestWithAPIServer(t *testing.T) {
	api := apitest.Start(t)
	c := api.Client
	ctx := context.Background()
	_, err := c.Services().Create(ctx, &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &skiffv1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIp: "None",
			Ports: []*skiffv1.ServicePort{{Name: "http", Protocol: "TCP", Port: 80, TargetPort: "8080"}}},
	})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	startEndpointsController(t, api)
	ts := startServer(t, Config{Client: c})
	name := "web.default.svc.cluster.local."
	want := func(ips ...string) func() error {
		return func() error {
			resp := ts.exchange(t, query(name, dns.TypeA), "udp")
			if resp.Rcode != dns.RcodeSuccess {
				return fmt.Errorf("rcode %s", dns.RcodeToString[resp.Rcode])
			}
			got := addrs(resp)
			slices.Sort(got)
			if !slices.Equal(got, ips) {
				return fmt.Errorf("answers %v, want %v", got, ips)
			}
			return nil
		}
	}
	eventually(t, "service without pods", want())

	for i, n := range []string{"web-1", "web-2", "web-3"} {
		if _, err := c.Pods().Create(ctx, newPod(n, map[string]string{"app": "web"})); err != nil {
			t.Fatalf("create pod: %v", err)
		}
		setStatus(t, c, n, fmt.Sprintf("10.9.0.%d", i+1), i < 2) // web-3 not ready
	}
	if _, err := c.Pods().Create(ctx, newPod("db-1", map[string]string{"app": "db"})); err != nil {
		t.Fatal(err)
	}
	setStatus(t, c, "db-1", "10.9.0.50", true)
	eventually(t, "two ready pods", want("10.9.0.1", "10.9.0.2"))

	setStatus(t, c, "web-3", "10.9.0.3", true)
	eventually(t, "third pod ready", want("10.9.0.1", "10.9.0.2", "10.9.0.3"))

	setStatus(t, c, "web-1", "10.9.0.1", false)
	eventually(t, "first pod not ready", want("10.9.0.2", "10.9.0.3"))

	setStatus(t, c, "web-2", "10.9.0.12", true) // restarted with a new IP
	eventually(t, "new IP", want("10.9.0.12", "10.9.0.3"))

	eventually(t, "SRV", func() error {
		resp := ts.exchange(t, query("_http._tcp."+name, dns.TypeSRV), "udp")
		if len(resp.Answer) != 2 || len(resp.Extra) != 2 {
			return fmt.Errorf("SRV: %v", resp)
		}
		// Headless: the port the pods listen on, not the service's.
		for _, r := range resp.Answer {
			if r.(*dns.SRV).Port != 8080 {
				return fmt.Errorf("SRV port: %v", r)
			}
		}
		return nil
	})
	eventually(t, "pod record and PTR", func() error {
		if resp := ts.exchange(t, query("10-9-0-50.default.pod.cluster.local.", dns.TypeA), "udp"); len(resp.Answer) != 1 {
			return fmt.Errorf("pod A: %v", resp)
		}
		resp := ts.exchange(t, query("3.0.9.10.in-addr.arpa.", dns.TypePTR), "udp")
		if len(resp.Answer) != 1 || resp.Answer[0].(*dns.PTR).Ptr != "10-9-0-3.web.default.svc.cluster.local." {
			return fmt.Errorf("PTR: %v", resp)
		}
		return nil
	})

	// Relabelling a pod out of the service removes it.
	if _, err := c.Pods().Modify(ctx, "default", "web-3", func(p *skiffv1.Pod) error {
		p.Metadata.Labels = map[string]string{"app": "other"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "relabelled", want("10.9.0.12"))

	// A pod on a node, deleted gracefully: it leaves the answers while it
	// still exists (terminating), before its node confirms it stopped.
	bound := newPod("web-4", map[string]string{"app": "web"})
	bound.Spec.NodeName = "n1"
	if _, err := c.Pods().Create(ctx, bound); err != nil {
		t.Fatal(err)
	}
	setStatus(t, c, "web-4", "10.9.0.4", true)
	eventually(t, "bound pod ready", want("10.9.0.12", "10.9.0.4"))
	if _, gone, err := c.Pods().Delete(ctx, "default", "web-4", client.DeleteOptions{}); err != nil || gone {
		t.Fatalf("graceful delete: gone=%v err=%v", gone, err)
	}
	eventually(t, "terminating pod out of the answers", want("10.9.0.12"))
	if _, err := c.Pods().Get(ctx, "default", "web-4"); err != nil {
		t.Fatalf("the terminating pod should still exist: %v", err)
	}
	eventually(t, "web-4 listed as terminating", func() error {
		ep, err := c.Endpoints().Get(ctx, "default", "web")
		if err != nil {
			return err
		}
		for _, e := range ep.GetSlices()[0].GetEndpoints() {
			if e.GetTargetRef().GetName() == "web-4" && e.GetConditions().GetTerminating() {
				return nil
			}
		}
		return fmt.Errorf("endpoints %v", ep.GetSlices())
	})

	if _, _, err := c.Pods().Delete(ctx, "default", "web-2", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted pod", want())
	eventually(t, "deleted pod's record", func() error {
		if resp := ts.exchange(t, query("10-9-0-12.default.pod.cluster.local.", dns.TypeA), "udp"); resp.Rcode != dns.RcodeNameError {
			return fmt.Errorf("pod A after delete: %v", resp)
		}
		return nil
	})

	// A selector change takes the service to other pods.
	if _, err := c.Services().Modify(ctx, "default", "web", func(s *skiffv1.Service) error {
		s.Spec.Selector = map[string]string{"app": "db"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new selector", want("10.9.0.50"))

	// A service with a ClusterIP answers with it, not with its pods.
	vip, err := c.Services().Create(ctx, &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: "vip", Namespace: "default"},
		Spec:     &skiffv1.ServiceSpec{Selector: map[string]string{"app": "db"}, Ports: []*skiffv1.ServicePort{{Name: "http", Port: 80}}},
	})
	if err != nil || vip.GetSpec().GetClusterIp() == "" {
		t.Fatalf("create a ClusterIP service: %v %v", vip.GetSpec(), err)
	}
	eventually(t, "ClusterIP answer", func() error {
		resp := ts.exchange(t, query("vip.default.svc.cluster.local.", dns.TypeA), "udp")
		if got := addrs(resp); !slices.Equal(got, []string{vip.Spec.ClusterIp}) {
			return fmt.Errorf("answers %v, want the ClusterIP %s", got, vip.Spec.ClusterIp)
		}
		return nil
	})

	if _, _, err := c.Services().Delete(ctx, "default", "web", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted service", func() error {
		if resp := ts.exchange(t, query(name, dns.TypeA), "udp"); resp.Rcode != dns.RcodeNameError {
			return fmt.Errorf("after delete: %v", resp)
		}
		return nil
	})
	if got := ts.counter(t, "skiff_dns_stale_answers_total"); got != 0 {
		t.Errorf("stale answers = %v", got)
	}
}

// A cluster that exists before the DNS server starts is served in full
// from the first answer: Ready waits for the initial list.
func TestWithAPIServerInitialSync(t *testing.T) {
	if testing.Short() {
		t.Skip("creates a few hundred objects")
	}
	api := apitest.Start(t)
	c := api.Client
	ctx := context.Background()
	const nSvc, nPods = 40, 5
	for i := 0; i < nSvc; i++ {
		app := fmt.Sprintf("app-%d", i)
		if _, err := c.Services().Create(ctx, &skiffv1.Service{
			Metadata: &skiffv1.ObjectMeta{Name: app, Namespace: "default"},
			Spec:     &skiffv1.ServiceSpec{Selector: map[string]string{"app": app}, ClusterIp: "None"},
		}); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < nPods; j++ {
			name := fmt.Sprintf("%s-%d", app, j)
			if _, err := c.Pods().Create(ctx, newPod(name, map[string]string{"app": app})); err != nil {
				t.Fatal(err)
			}
			setStatus(t, c, name, fmt.Sprintf("10.8.%d.%d", i, j+1), true)
		}
	}
	startEndpointsController(t, api)
	for i := 0; i < nSvc; i++ {
		eventually(t, "endpoints kept", func() error {
			ep, err := c.Endpoints().Get(ctx, "default", fmt.Sprintf("app-%d", i))
			if err != nil {
				return err
			}
			if n := len(readyEndpoints(ep)); n != nPods {
				return fmt.Errorf("app-%d: %d ready endpoints", i, n)
			}
			return nil
		})
	}
	ts := startServer(t, Config{Client: c})
	for i := 0; i < nSvc; i++ {
		resp := ts.exchange(t, query(fmt.Sprintf("app-%d.default.svc.cluster.local.", i), dns.TypeA), "udp")
		if len(resp.Answer) != nPods {
			t.Fatalf("app-%d: %d answers right after Ready, want %d", i, len(resp.Answer), nPods)
		}
	}
}
