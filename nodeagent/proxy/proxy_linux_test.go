package proxy

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/skiff-sh/skiff/nodeagent/network"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// lab is a node network namespace with a bridge (10.77.0.1/24) and pods,
// each a namespace of its own on a veth, all made by the test and gone
// with it. The node blackholes the service CIDR as an agent does; nothing
// routes anywhere else.
type lab struct {
	t    *testing.T
	node string
	pods []string // pod i has 10.77.0.(10+i)
}

func newLab(t *testing.T, pods int) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, veths, nftables")
	}
	for _, tool := range []string{"nsenter", "/bin/busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	l := &lab{t: t, node: newNetNS(t, "node")}
	h := nsHandle(t, l.node)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br-t"}}
	must(t, h.LinkAdd(br))
	must(t, h.AddrAdd(br, &netlink.Addr{IPNet: ipNet("10.77.0.1/24")}))
	must(t, h.LinkSetUp(br))
	lo, _ := h.LinkByName("lo")
	must(t, h.LinkSetUp(lo))
	_, svcNet, _ := net.ParseCIDR("10.96.0.0/12")
	must(t, h.RouteAdd(&netlink.Route{Dst: svcNet, Type: unix.RTN_BLACKHOLE}))
	// As the agent's network setup: the node's own connections to the
	// service CIDR route to a port-less bridge, so that they reach the
	// output hook (the blackhole would refuse them at connect).
	must(t, network.EnsureServiceRoute(h, netip.MustParsePrefix("10.96.0.0/12")))
	l.sh(l.node, "echo 1 > /proc/sys/net/ipv4/ip_forward")
	for i := 0; i < pods; i++ {
		p := newNetNS(t, fmt.Sprintf("pod%d", i))
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		must(t, err)
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("vp%d", i), MasterIndex: br.Attrs().Index}, PeerName: "eth0", PeerNamespace: netlink.NsFd(fd)}
		err = h.LinkAdd(veth)
		unix.Close(fd)
		must(t, err)
		host, _ := h.LinkByName(veth.Name)
		must(t, h.LinkSetHairpin(host, true)) // as the agent's Attach does
		must(t, h.LinkSetUp(host))
		ph := nsHandle(t, p)
		eth, err := ph.LinkByName("eth0")
		must(t, err)
		must(t, ph.AddrAdd(eth, &netlink.Addr{IPNet: ipNet(fmt.Sprintf("10.77.0.%d/24", 10+i))}))
		must(t, ph.LinkSetUp(eth))
		plo, _ := ph.LinkByName("lo")
		must(t, ph.LinkSetUp(plo))
		must(t, ph.RouteAdd(&netlink.Route{Gw: net.ParseIP("10.77.0.1"), LinkIndex: eth.Attrs().Index}))
		l.pods = append(l.pods, p)
	}
	return l
}

func (l *lab) podIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 77, 0, byte(10 + i)}) }

// serve starts busybox httpd on :8080 in pod i, answering its name.
func (l *lab) serve(i int) {
	dir := l.t.TempDir()
	must(l.t, os.WriteFile(filepath.Join(dir, "index.html"), []byte(fmt.Sprintf("pod%d\n", i)), 0o644))
	l.serveDir(i, dir)
}

// serveDir starts busybox httpd on :8080 in pod i, serving dir.
func (l *lab) serveDir(i int, dir string, args ...string) {
	cmd := exec.Command("nsenter", append([]string{"--net=" + l.pods[i], "--", "/bin/busybox", "httpd", "-f", "-p", "8080", "-h", dir}, args...)...)
	must(l.t, cmd.Start())
	l.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := l.get(l.pods[i], "http://127.0.0.1:8080/"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("httpd in pod%d did not start", i)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches url from inside the namespace ns, within 5 seconds.
func (l *lab) get(ns, url string) (string, error) {
	cmd := exec.Command("nsenter", "--net="+ns, "--", "timeout", "5", "/bin/busybox", "wget", "-q", "-O", "-", url)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func (l *lab) sh(ns, script string) {
	if out, err := exec.Command("nsenter", "--net="+ns, "--", "/bin/busybox", "sh", "-c", script).CombinedOutput(); err != nil {
		l.t.Fatalf("%s: %v: %s", script, err, out)
	}
}

func (l *lab) program(ports []ServicePort) {
	l.t.Helper()
	if err := withConn(l.node, func(c *nftables.Conn) error { return Program(c, ports) }); err != nil {
		l.t.Fatal(err)
	}
}

// counts fetches url n times from ns and counts the answers by pod.
func (l *lab) counts(ns, url string, n int) map[string]int {
	l.t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		out, err := l.get(ns, url)
		if err != nil {
			l.t.Fatalf("request %d to %s: %v: %s", i, url, err, out)
		}
		got[out]++
	}
	return got
}

// A pod reaches a ClusterIP and every endpoint answers over 60 requests;
// a node port on the node's address works from a pod and from the node
// itself; a pod whose own address is an endpoint reaches itself through
// the service (hairpin); an endpoint left out stops getting connections;
// Remove leaves no table.
func TestClusterIPAndNodePortInNetNS(t *testing.T) {
	l := newLab(t, 4)
	for i := 1; i < 4; i++ {
		l.serve(i)
	}
	eps := []Endpoint{{l.podIP(1), 8080}, {l.podIP(2), 8080}, {l.podIP(3), 8080}}
	svc := ServicePort{Name: "default/web:http", ClusterIP: netip.MustParseAddr("10.96.0.10"), Protocol: protoTCP, Port: 80, NodePort: 30080, Endpoints: eps}
	other := ServicePort{Name: "default/other:http", ClusterIP: netip.MustParseAddr("10.96.0.11"), Protocol: protoTCP, Port: 80, Endpoints: []Endpoint{{l.podIP(3), 8080}}}
	l.program([]ServicePort{svc, other})
	t.Cleanup(func() {
		if err := withConn(l.node, Remove); err != nil {
			t.Error(err)
		}
	})

	got := l.counts(l.pods[0], "http://10.96.0.10/", 60)
	for i := 1; i < 4; i++ {
		if got[fmt.Sprintf("pod%d", i)] == 0 {
			t.Fatalf("pod%d got none of 60 requests: %v", i, got)
		}
	}
	if got := l.counts(l.pods[0], "http://10.96.0.11/", 5); got["pod3"] != 5 {
		t.Fatalf("second service: %v", got)
	}
	// The node's own processes reach a ClusterIP (through the output
	// hook, not refused by the service CIDR's blackhole route), every
	// endpoint of it; an address no rule translates goes nowhere.
	got = l.counts(l.node, "http://10.96.0.10/", 60)
	for i := 1; i < 4; i++ {
		if got[fmt.Sprintf("pod%d", i)] == 0 {
			t.Fatalf("from the node, pod%d got none of 60 requests: %v", i, got)
		}
	}
	if out, err := l.get(l.node, "http://10.96.0.99/"); err == nil {
		t.Fatalf("an untranslated ClusterIP answered the node: %s", out)
	}
	// Node port, from a pod and from the node itself.
	if got := l.counts(l.pods[0], "http://10.77.0.1:30080/", 10); len(got) == 0 {
		t.Fatal("node port from a pod: no answers")
	}
	if got := l.counts(l.node, "http://10.77.0.1:30080/", 10); len(got) == 0 {
		t.Fatal("node port from the node: no answers")
	}
	// Hairpin: pod1 through the service, sometimes to itself.
	if got := l.counts(l.pods[1], "http://10.96.0.10/", 30); got["pod1"] == 0 {
		t.Fatalf("pod1 never reached itself through its service: %v", got)
	}

	// pod2 leaves the endpoints: no new connection goes there. Only the
	// endpoints changed, so the update refills one chain.
	before := []ServicePort{svc, other}
	svc.Endpoints = []Endpoint{eps[0], eps[2]}
	if err := withConn(l.node, func(c *nftables.Conn) error {
		partial, err := Update(c, before, []ServicePort{svc, other})
		if err == nil && !partial {
			t.Error("an endpoint change rewrote the whole table")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := l.counts(l.pods[0], "http://10.96.0.10/", 40); got["pod2"] != 0 || got["pod1"] == 0 || got["pod3"] == 0 {
		t.Fatalf("after removing pod2: %v", got)
	}
	// A port with no endpoints: nothing answers (refused, see
	// TestServiceWithoutEndpointsRefuses).
	svc.Endpoints = nil
	l.program([]ServicePort{svc, other})
	if out, err := l.get(l.pods[0], "http://10.96.0.10/"); err == nil {
		t.Fatalf("a service without endpoints answered: %s", out)
	}
	if err := withConn(l.node, Remove); err != nil {
		t.Fatal(err)
	}
	if found, err := RemoveIfPresent(l.node); err != nil || found {
		t.Fatalf("table still there after Remove: %v %v", found, err)
	}
}

func newNetNS(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "skiffproxy-"+name)
	f, err := os.Create(path)
	must(t, err)
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "", unix.MS_BIND, "")
	}()
	must(t, <-errc)
	t.Cleanup(func() { unix.Unmount(path, unix.MNT_DETACH) })
	return path
}

func nsHandle(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	must(t, err)
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	must(t, err)
	t.Cleanup(h.Close)
	return h
}

func ipNet(s string) *net.IPNet {
	ip, n, _ := net.ParseCIDR(s)
	n.IP = ip
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
