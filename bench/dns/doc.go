// Command dns benchmarks skiff's cluster DNS against CoreDNS in the same
// run, on loopback.
//
// It loads 1,000 services × 10 ready pods into a skiff DNS server (through
// the same rebuild path that watch events take), writes the same records
// as a zone file for CoreDNS's file plugin, and also starts a naive
// miekg/dns server with pre-built answers as a floor. Each server runs as
// its own process; the load comes from dnsperf (throughput) when it is
// installed, and from a small closed-loop Go load generator (throughput
// and latency percentiles). Every run is
// bounded in time and count and targets 127.0.0.1 only.
//
//	go run ./bench/dns                      # CoreDNS from PATH or $GOPATH/bin
//	go run ./bench/dns -coredns /path/to/coredns -duration 10s -rounds 3
//
// CoreDNS is built outside this module, so our go.mod does not grow:
//
//	cd "$(mktemp -d)" && go install github.com/coredns/coredns@v1.15.0
package main
