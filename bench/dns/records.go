package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"

	"github.com/skiff-sh/skiff/dnsserver"
)

const namespace = "bench"

// services is the benchmark's cluster: n services of m ready pods each,
// every pod with its own IP in 10.0.0.0/8.
func services(n, m int) []dnsserver.Service {
	out := make([]dnsserver.Service, n)
	for i := range out {
		s := dnsserver.Service{Namespace: namespace, Name: fmt.Sprintf("svc-%d", i),
			Ports: []dnsserver.Port{{Name: "http", Protocol: "tcp", Port: 80}}}
		for j := 0; j < m; j++ {
			k := i*m + j + 1
			ip := netip.AddrFrom4([4]byte{10, byte(k >> 16), byte(k >> 8), byte(k)})
			s.Endpoints = append(s.Endpoints, dnsserver.Endpoint{IP: ip, Pod: fmt.Sprintf("svc-%d-%d", i, j)})
		}
		out[i] = s
	}
	return out
}

func fqdn(s dnsserver.Service) string {
	return s.Name + "." + s.Namespace + ".svc.cluster.local."
}

// writeZone writes the A records of every service as a zone file for
// CoreDNS's file plugin.
func writeZone(path string, svcs []dnsserver.Service) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("zone file: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "$ORIGIN cluster.local.")
	fmt.Fprintln(w, "@ 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5")
	fmt.Fprintln(w, "@ 5 IN NS ns.dns.cluster.local.")
	fmt.Fprintln(w, "ns.dns 5 IN A 127.0.0.1")
	for _, s := range svcs {
		for _, ep := range s.Endpoints {
			fmt.Fprintf(w, "%s 5 IN A %s\n", fqdn(s), ep.IP)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("zone file: %w", err)
	}
	return f.Close()
}

// writeQueries writes dnsperf's input: one A query per service.
func writeQueries(path string, svcs []dnsserver.Service) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("query file: %w", err)
	}
	w := bufio.NewWriter(f)
	for _, s := range svcs {
		fmt.Fprintf(w, "%s A\n", fqdn(s))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("query file: %w", err)
	}
	return f.Close()
}
