package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/ports"
)

// dnsFailoverBound is how long the test waits, after server-1 is killed,
// for the kube-dns Endpoints to drop it and pods to resolve again: its
// registration's lease (15 s) runs out, plus an etcd election when it led
// etcd, plus the agents' proxies following the change.
const dnsFailoverBound = 45 * time.Second

// In a cluster of three servers, pods resolve names through the Service
// kube-system/kube-dns: its ClusterIP (the service CIDR's .10) is their
// nameserver, and its Endpoints list every live server's DNS. Queries
// over UDP and TCP, from a pod and from a node, reach the servers' DNS
// (endpoints that are node addresses, not pods). server-1 (the first
// listed) is killed with SIGKILL: within dnsFailoverBound the Endpoints no
// longer list it and the pod and the node resolve again, every time.
func TestClusterDNSSurvivesServerLoss(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	c, _ := newThreeServerCluster(t, "e2d")

	// Every server's DNS is an endpoint of kube-dns, at its lab address.
	rows := serverList(t, c, 3)
	dnsOf := map[string]string{}
	var all []string
	for _, s := range rows {
		host, _, err := net.SplitHostPort(s.address)
		if err != nil {
			t.Fatalf("server %s address %q: %v", s.name, s.address, err)
		}
		dnsOf[s.name] = net.JoinHostPort(host, "53")
		all = append(all, dnsOf[s.name])
	}
	slices.Sort(all)
	// `server list -o wide` says where each server serves DNS.
	out, err := c.Skiff("server", "list", "-o", "wide")
	if err != nil {
		t.Fatalf("server list -o wide: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		if want := dnsOf[f[0]]; want == "" || f[len(f)-1] != want {
			t.Errorf("server list -o wide: %q, want DNS %s last", line, want)
		}
	}
	eventually(t, "kube-dns endpoints list the 3 servers", func() error {
		got, err := dnsEndpoints(c)
		if err != nil {
			return err
		}
		if !slices.Equal(got, all) {
			return fmt.Errorf("kube-dns endpoints %v, want %v", got, all)
		}
		return nil
	})
	out, err = c.Skiff("get", "service", "kube-dns", "-n", "kube-system", "-o", "json")
	if err != nil {
		t.Fatalf("get service kube-dns: %v\n%s", err, out)
	}
	var svc struct {
		Spec struct {
			ClusterIP string `json:"clusterIP"`
			Selector  map[string]string
		}
	}
	if err := json.Unmarshal([]byte(out), &svc); err != nil {
		t.Fatalf("kube-dns JSON: %v\n%s", err, out)
	}
	if svc.Spec.ClusterIP != "10.96.0.10" || len(svc.Spec.Selector) != 0 {
		t.Fatalf("kube-dns: clusterIP %q, selector %v; want 10.96.0.10, none", svc.Spec.ClusterIP, svc.Spec.Selector)
	}

	// prometheus-targets lists each server's metrics, as it registered it.
	wantTargets := func(servers []serverRow) error {
		var want []string
		for _, s := range servers {
			host, _, _ := net.SplitHostPort(s.address)
			want = append(want, s.name+"="+net.JoinHostPort(host, strconv.Itoa(ports.ServerMetrics)))
		}
		got, err := serverTargets(c)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("prometheus-targets servers %v, want %v", got, want)
		}
		return nil
	}
	if err := wantTargets(rows); err != nil {
		t.Fatal(err)
	}

	apply(t, c, haWebDeployment(c.Image(), 2)+`---
apiVersion: skiff/v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`)
	web := waitPods(t, c, "app=web", 2)
	vip := clusterIP(t, c, "web")
	pod := web[0].Name
	if out, err := c.Skiff("exec", pod, "--", "cat", "/etc/resolv.conf"); err != nil || !strings.Contains(out, "nameserver 10.96.0.10\n") {
		t.Fatalf("the pod's resolv.conf: %v; want nameserver 10.96.0.10 in\n%s", err, out)
	}
	const name = "web.default.svc.cluster.local"
	podResolves := func() error {
		out, err := c.Skiff("exec", pod, "--", "nslookup", name)
		if err != nil || !strings.Contains(out, vip) {
			return fmt.Errorf("nslookup %s from %s: %v: want %s in\n%s", name, pod, err, vip, out)
		}
		return nil
	}
	podResolvesTCP := func() error {
		ips, err := podTCPLookup(c, pod, "10.96.0.10:53", name)
		if err != nil {
			return fmt.Errorf("TCP query from %s: %w", pod, err)
		}
		if !slices.Contains(ips, vip) {
			return fmt.Errorf("TCP query from %s: %v, want %s", pod, ips, vip)
		}
		return nil
	}
	nodeNS := fmt.Sprintf("/run/netns/skiff-%s-node-2", c.name)
	nodeResolves := func(network string) error {
		ips, err := lookupInNetNS(nodeNS, network, "10.96.0.10:53", name)
		if err != nil {
			return fmt.Errorf("%s query from node-2: %w", network, err)
		}
		if !slices.Contains(ips, vip) {
			return fmt.Errorf("%s query from node-2: %v, want %s", network, ips, vip)
		}
		return nil
	}
	// Each of the three endpoints is picked at random: several lookups
	// of each kind all answer.
	for i := range 6 {
		for what, fn := range map[string]func() error{"pod": podResolves, "pod tcp": podResolvesTCP, "node udp": func() error { return nodeResolves("udp") }, "node tcp": func() error { return nodeResolves("tcp") }} {
			if err := fn(); err != nil {
				t.Fatalf("lookup %d (%s) with all servers up: %v", i, what, err)
			}
		}
	}

	// server-1, the first listed, dies.
	dead := rows[0].name
	c.Signal(dead, "server", syscall.SIGKILL)
	killed := time.Now()
	t.Logf("killed %s (DNS %s)", dead, dnsOf[dead])
	var alive []string
	for _, a := range all {
		if a != dnsOf[dead] {
			alive = append(alive, a)
		}
	}
	eventually2(t, dnsFailoverBound, "kube-dns endpoints drop "+dead, func() error {
		got, err := dnsEndpoints(c)
		if err != nil {
			return err
		}
		if !slices.Equal(got, alive) {
			return fmt.Errorf("kube-dns endpoints %v, want %v", got, alive)
		}
		return nil
	})
	dropped := time.Since(killed)
	// Then every lookup answers: the proxies no longer send any to the
	// dead server.
	eventually2(t, dnsFailoverBound-dropped, "lookups answer again after the kill", func() error {
		for i := range 5 {
			if err := podResolves(); err != nil {
				return fmt.Errorf("lookup %d: %w", i, err)
			}
			if err := podResolvesTCP(); err != nil {
				return fmt.Errorf("lookup %d: %w", i, err)
			}
			if err := nodeResolves("tcp"); err != nil {
				return fmt.Errorf("lookup %d: %w", i, err)
			}
			if err := nodeResolves("udp"); err != nil {
				return fmt.Errorf("lookup %d: %w", i, err)
			}
		}
		return nil
	})
	t.Logf("kube-dns endpoints dropped %s %.1fs after the kill; lookups all answered %.1fs after it", dead, dropped.Seconds(), time.Since(killed).Seconds())
	// Its registration gone, the dead server is no target either.
	if err := wantTargets(rows[1:]); err != nil {
		t.Error(err)
	}
}

// serverTargets is `skiff cluster prometheus-targets`' server groups, as
// NAME=HOST:PORT in its order.
func serverTargets(c *kindCluster) ([]string, error) {
	out, err := c.Skiff("cluster", "prometheus-targets")
	if err != nil {
		return nil, fmt.Errorf("prometheus-targets: %v\n%s", err, out)
	}
	var groups []struct {
		Targets []string
		Labels  map[string]string
	}
	if err := json.Unmarshal([]byte(out), &groups); err != nil {
		return nil, fmt.Errorf("prometheus-targets: %v\n%s", err, out)
	}
	var got []string
	for _, g := range groups {
		if g.Labels["component"] == "server" {
			for _, target := range g.Targets {
				got = append(got, g.Labels["server"]+"="+target)
			}
		}
	}
	return got, nil
}

// dnsEndpoints is the kube-dns Endpoints' HOST:PORTs, sorted.
func dnsEndpoints(c *kindCluster) ([]string, error) {
	out, err := c.Skiff("get", "endpoints", "kube-dns", "-n", "kube-system", "-o", "json")
	if err != nil {
		return nil, fmt.Errorf("get endpoints kube-dns: %v: %s", err, out)
	}
	var ep struct {
		Slices []struct {
			Endpoints []struct {
				Addresses  []string
				Conditions struct{ Ready bool }
			}
			Ports []struct {
				Name     string
				Port     int
				Protocol string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &ep); err != nil {
		return nil, fmt.Errorf("kube-dns endpoints JSON: %v\n%s", err, out)
	}
	var got []string
	for _, s := range ep.Slices {
		port := 0
		for _, p := range s.Ports {
			if p.Name == "dns" && p.Protocol == "UDP" {
				port = p.Port
			}
		}
		for _, e := range s.Endpoints {
			for _, a := range e.Addresses {
				if e.Conditions.Ready {
					got = append(got, net.JoinHostPort(a, fmt.Sprint(port)))
				}
			}
		}
	}
	slices.Sort(got)
	return got, nil
}

// podTCPLookup asks server over TCP for name's A records from inside pod:
// busybox nc sends the query (framed with its length, written out as
// printf's octal escapes) and od shows the reply, which is unpacked here.
// nc waits for the server to close, so timeout ends it once the answer is
// in.
func podTCPLookup(c *kindCluster, pod, server, name string) ([]string, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	b, err := q.Pack()
	if err != nil {
		return nil, err
	}
	var esc strings.Builder
	for _, x := range append([]byte{byte(len(b) >> 8), byte(len(b))}, b...) {
		fmt.Fprintf(&esc, "\\%03o", x)
	}
	host, port, _ := net.SplitHostPort(server)
	script := fmt.Sprintf("printf '%s' | busybox timeout 2 nc %s %s | busybox od -An -v -tx1", esc.String(), host, port)
	out, err := c.Skiff("exec", pod, "--", "sh", "-c", script)
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var reply []byte
	for _, f := range strings.Fields(out) {
		v, err := strconv.ParseUint(f, 16, 8)
		if err != nil {
			return nil, fmt.Errorf("od output %q: %v", out, err)
		}
		reply = append(reply, byte(v))
	}
	if len(reply) < 2 {
		return nil, fmt.Errorf("no reply: %q", out)
	}
	n := int(reply[0])<<8 | int(reply[1])
	if len(reply) < 2+n {
		return nil, fmt.Errorf("a reply of %d bytes, want %d: %q", len(reply)-2, n, out)
	}
	r := new(dns.Msg)
	if err := r.Unpack(reply[2 : 2+n]); err != nil {
		return nil, fmt.Errorf("reply: %v", err)
	}
	if r.Id != q.Id || r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("reply id %d (want %d), rcode %s", r.Id, q.Id, dns.RcodeToString[r.Rcode])
	}
	var ips []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	return ips, nil
}

// lookupInNetNS asks server (over network "udp" or "tcp") for name's A
// records from the network namespace at nsPath: the socket is made on a
// thread moved there, so the node's own rules (the proxy's output hook)
// translate it as they would any process of the node.
func lookupInNetNS(nsPath, network, server, name string) ([]string, error) {
	type result struct {
		ips []string
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: if moving it back failed it must
		// die with this goroutine rather than serve another.
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer self.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("setns %s: %w", nsPath, err)}
			return
		}
		conn, err := net.DialTimeout(network, server, 3*time.Second)
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("setns back: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		q := new(dns.Msg)
		q.SetQuestion(dns.Fqdn(name), dns.TypeA)
		dc := &dns.Conn{Conn: conn}
		_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
		if err := dc.WriteMsg(q); err != nil {
			done <- result{err: err}
			return
		}
		r, err := dc.ReadMsg()
		if err != nil {
			done <- result{err: err}
			return
		}
		if r.Rcode != dns.RcodeSuccess {
			done <- result{err: fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])}
			return
		}
		var ips []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				ips = append(ips, a.A.String())
			}
		}
		done <- result{ips: ips}
	}()
	res := <-done
	return res.ips, res.err
}
