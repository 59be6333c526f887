package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/proxy"
)

// syncTimes rewrites the table syncs times at n services, one endpoint
// changed each time, and returns each rewrite's duration, sorted.
func syncTimes(tb testing.TB, l *lab, n, syncs int) []time.Duration {
	c := conn(tb, l.node)
	ports := services(n)
	var out []time.Duration
	for i := 0; i < syncs; i++ {
		ports[i%n].Endpoints[0].Port = uint16(9000 + i) // the change
		start := time.Now()
		must(tb, proxy.Program(c, ports))
		out = append(out, time.Since(start))
	}
	must(tb, proxy.Remove(c))
	slices.Sort(out)
	return out
}

// partialTimes is syncTimes through proxy.Update: only the changed
// service's chain is refilled.
func partialTimes(tb testing.TB, l *lab, n, syncs int) []time.Duration {
	c := conn(tb, l.node)
	ports := services(n)
	must(tb, proxy.Program(c, ports))
	var out []time.Duration
	for i := 0; i < syncs; i++ {
		next := slices.Clone(ports)
		k := i % n
		next[k].Endpoints = slices.Clone(ports[k].Endpoints)
		next[k].Endpoints[0].Port = uint16(9000 + i)
		start := time.Now()
		partial, err := proxy.Update(c, ports, next)
		out = append(out, time.Since(start))
		must(tb, err)
		if !partial {
			tb.Fatal("an endpoint change rewrote the table")
		}
		ports = next
	}
	must(tb, proxy.Remove(c))
	slices.Sort(out)
	return out
}

// addRemoveTimes adds one service to n and removes it again, syncs times
// each, through proxy.Update (incremental: the new service's chain, rules
// and map entries in, then out), and returns each update's duration,
// sorted.
func addRemoveTimes(tb testing.TB, l *lab, n, syncs int) []time.Duration {
	c := conn(tb, l.node)
	ports := services(n)
	must(tb, proxy.Program(c, ports))
	var out []time.Duration
	for i := 0; i < syncs; i++ {
		extra := services(1)[0]
		extra.Name = fmt.Sprintf("default/added-%d:http", i)
		extra.ClusterIP = netip.AddrFrom4([4]byte{10, 97, byte(i >> 8), byte(i)})
		// Sorted as proxy.Desired sorts: "added" before "svc".
		next := append([]proxy.ServicePort{extra}, ports...)
		for _, step := range [][2][]proxy.ServicePort{{ports, next}, {next, ports}} {
			start := time.Now()
			partial, err := proxy.Update(c, step[0], step[1])
			out = append(out, time.Since(start))
			must(tb, err)
			if !partial {
				tb.Fatal("adding or removing a service rewrote the table")
			}
		}
	}
	must(tb, proxy.Remove(c))
	slices.Sort(out)
	return out
}

// connectRun measures connects through the last of n services with each
// table shape, and directly to the pod.
func connectRun(tb testing.TB, l *lab, n, conns int) (direct, vmap, linear []time.Duration) {
	c := conn(tb, l.node)
	ports := services(n)
	vip := net.JoinHostPort(clusterIP(n-1).String(), "80")
	direct = connectTimes(tb, l, net.JoinHostPort(backendIP.String(), "8080"), conns)
	must(tb, proxy.Program(c, ports))
	vmap = connectTimes(tb, l, vip, conns)
	must(tb, proxy.Remove(c))
	linearTable(tb, c, ports)
	linear = connectTimes(tb, l, vip, conns)
	dropTable(tb, c, "bench-linear")
	return direct, vmap, linear
}

func report(tb testing.TB, what string, d []time.Duration) {
	tb.Logf("%-34s p50 %8v  p90 %8v  p99 %8v  max %8v", what, pct(d, .5), pct(d, .9), pct(d, .99), d[len(d)-1])
}

func BenchmarkSync(b *testing.B) {
	l := newLab(b)
	for range b.N {
		for _, n := range []int{100, 1000, 5000} {
			report(b, fmt.Sprintf("sync, %d services × 10 endpoints", n), syncTimes(b, l, n, *syncsFlag))
			report(b, fmt.Sprintf("partial, %d services × 10 endpoints", n), partialTimes(b, l, n, *syncsFlag))
			report(b, fmt.Sprintf("add/remove, %d services × 10 endpoints", n), addRemoveTimes(b, l, n, *syncsFlag))
		}
	}
}

func BenchmarkConnect(b *testing.B) {
	l := newLab(b)
	serve(b, l)
	for range b.N {
		for _, n := range []int{1000, 5000} {
			direct, vmap, linear := connectRun(b, l, n, *connsFlag)
			report(b, "connect, direct to the pod", direct)
			report(b, "connect, verdict map, "+strconv.Itoa(n)+" svcs", vmap)
			report(b, "connect, linear chain, "+strconv.Itoa(n)+" svcs", linear)
			b.Logf("p50 ratio to direct: verdict map %.2f×, linear %.2f×; linear/map %.2f×",
				ratio(vmap, direct), ratio(linear, direct), ratio(linear, vmap))
		}
	}
}

func ratio(a, b []time.Duration) float64 { return float64(pct(a, .5)) / float64(pct(b, .5)) }

// TestSmoke keeps the benchmark working: small sizes, every path must
// connect.
func TestSmoke(t *testing.T) {
	l := newLab(t)
	serve(t, l)
	if d := syncTimes(t, l, 300, 3); len(d) != 3 {
		t.Fatalf("%d syncs", len(d))
	}
	if d := partialTimes(t, l, 300, 3); len(d) != 3 {
		t.Fatalf("%d partial syncs", len(d))
	}
	if d := addRemoveTimes(t, l, 300, 3); len(d) != 6 {
		t.Fatalf("%d service additions and removals", len(d))
	}
	// 300: past one netlink message of map elements.
	direct, vmap, linear := connectRun(t, l, 300, 20)
	if len(direct) != 20 || len(vmap) != 20 || len(linear) != 20 {
		t.Fatalf("connections: %d %d %d", len(direct), len(vmap), len(linear))
	}
}
