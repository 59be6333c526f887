package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// result is one load run against one server.
type result struct {
	answered, lost int
	elapsed        time.Duration
	latencies      []time.Duration // sorted
	avg            time.Duration   // from dnsperf, which has no percentiles
}

func (r result) qps() float64 { return float64(r.answered) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func (r result) mean() time.Duration {
	if r.avg > 0 || len(r.latencies) == 0 {
		return r.avg
	}
	var sum time.Duration
	for _, l := range r.latencies {
		sum += l
	}
	return sum / time.Duration(len(r.latencies))
}

// loadgen is a closed-loop load generator: each worker has its own UDP
// socket and one query in flight, cycling through the names. It stops
// after d or maxQueries queries, whichever comes first. Every answer must
// carry the query's ID, NOERROR and at least one record.
func loadgen(addr string, names []string, workers int, d time.Duration, maxQueries int) (result, error) {
	queries := make([][]byte, len(names))
	for i, n := range names {
		m := new(dns.Msg)
		m.SetQuestion(n, dns.TypeA)
		b, err := m.Pack()
		if err != nil {
			return result{}, err
		}
		queries[i] = b
	}
	type part struct {
		lat  []time.Duration
		lost int
		err  error
	}
	parts := make([]part, workers)
	per := maxQueries / workers
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &parts[w]
			p.lat = make([]time.Duration, 0, min(per, 1<<20))
			conn, err := net.Dial("udp", addr)
			if err != nil {
				p.err = err
				return
			}
			defer conn.Close()
			buf := make([]byte, 4096)
			q := make([]byte, 0, 512)
			for i := 0; i < per; i++ {
				if i%64 == 0 && time.Now().After(deadline) {
					break
				}
				q = append(q[:0], queries[(w*7919+i)%len(queries)]...)
				id := uint16(i)
				binary.BigEndian.PutUint16(q, id)
				t0 := time.Now()
				if _, err := conn.Write(q); err != nil {
					p.err = err
					return
				}
				_ = conn.SetReadDeadline(t0.Add(time.Second))
				for {
					n, err := conn.Read(buf)
					if err != nil {
						var ne net.Error
						if errors.As(err, &ne) && ne.Timeout() {
							p.lost++
							break
						}
						p.err = err
						return
					}
					if n < 12 || binary.BigEndian.Uint16(buf) != id {
						continue // a late answer to a lost query
					}
					if buf[3]&0xF != 0 || binary.BigEndian.Uint16(buf[6:]) == 0 {
						p.err = fmt.Errorf("bad answer: rcode %d, %d records", buf[3]&0xF, binary.BigEndian.Uint16(buf[6:]))
						return
					}
					p.lat = append(p.lat, time.Since(t0))
					break
				}
			}
		}()
	}
	wg.Wait()
	r := result{elapsed: time.Since(start)}
	for _, p := range parts {
		if p.err != nil {
			return r, p.err
		}
		r.latencies = append(r.latencies, p.lat...)
		r.lost += p.lost
	}
	slices.Sort(r.latencies)
	r.answered = len(r.latencies)
	return r, nil
}
