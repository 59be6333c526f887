package dnsserver

import (
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// One look through the eyes of a standard client: dig from bind9-dnsutils.
func TestDig(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		t.Skip("dig not installed (Debian: apt-get install bind9-dnsutils)")
	}
	ts := startServer(t, Config{Backend: clusterBackend()})
	host, port, _ := net.SplitHostPort(ts.addr)
	run := func(args ...string) []string {
		out, err := exec.Command(dig, append([]string{"@" + host, "-p", port, "+short", "+time=2", "+tries=1"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
		lines := strings.Fields(strings.TrimSpace(string(out)))
		slices.Sort(lines)
		return lines
	}
	if got := run("web.default.svc.cluster.local", "A"); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Errorf("dig A: %v", got)
	}
	if got := run("+tcp", "web.default.svc.cluster.local", "A"); !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Errorf("dig +tcp A: %v", got)
	}
	if got := run("_http._tcp.web.default.svc.cluster.local", "SRV"); len(got) != 8 {
		t.Errorf("dig SRV: %v", got)
	}
	if got := run("-x", "10.0.0.9"); !slices.Equal(got, []string{"10-0-0-9.default.pod.cluster.local."}) {
		t.Errorf("dig -x: %v", got)
	}
	out, err := exec.Command(dig, "@"+host, "-p", port, "+time=2", "+tries=1", "nope.default.svc.cluster.local").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "status: NXDOMAIN") || !strings.Contains(string(out), "SOA") {
		t.Errorf("dig NXDOMAIN: %v\n%s", err, out)
	}
}
