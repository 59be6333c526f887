package main

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

var (
	dnsperfQPS  = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	dnsperfAvg  = regexp.MustCompile(`Average Latency \(s\):\s+([0-9.]+)`)
	dnsperfLost = regexp.MustCompile(`Queries lost:\s+([0-9]+)`)
	dnsperfDone = regexp.MustCompile(`Queries completed:\s+([0-9]+)`)
)

// runDNSPerf runs dnsperf (-c clients, its default 100 queries
// outstanding) for d against addr and reads its summary.
func runDNSPerf(bin, addr, queries string, clients int, d time.Duration) (result, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return result{}, err
	}
	secs := max(1, int(d.Seconds()))
	out, err := exec.Command(bin, "-s", host, "-p", port, "-d", queries, "-c", strconv.Itoa(clients),
		"-l", strconv.Itoa(secs), "-t", "2").CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("dnsperf: %w\n%s", err, out)
	}
	num := func(re *regexp.Regexp) (float64, error) {
		m := re.FindSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("dnsperf output lacks %q:\n%s", re, out)
		}
		return strconv.ParseFloat(string(m[1]), 64)
	}
	qps, err := num(dnsperfQPS)
	if err != nil {
		return result{}, err
	}
	avg, err := num(dnsperfAvg)
	if err != nil {
		return result{}, err
	}
	lost, _ := num(dnsperfLost)
	done, _ := num(dnsperfDone)
	return result{
		answered: int(done), lost: int(lost),
		elapsed: time.Duration(done / qps * float64(time.Second)),
		avg:     time.Duration(avg * float64(time.Second)),
	}, nil
}
