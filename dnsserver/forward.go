package dnsserver

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// forwarder ends the chain: it asks the upstream servers, in order, and
// answers SERVFAIL when none answers within its time budget, well before a
// client gives up (glibc waits 5 s, dig 5 s, Go 5 s). It answers from its
// own goroutine so a slow upstream never holds up a serving loop.
type forwarder struct {
	upstreams []string
	timeout   time.Duration // for one query, all upstreams together
	inflight  chan struct{} // bounds the goroutines waiting on upstreams
	wg        *sync.WaitGroup
	m         *metrics
	log       *slog.Logger
}

func (f *forwarder) name() string { return "forward" }

func (f *forwarder) serveDNS(ctx context.Context, w responseWriter, r *request) {
	if len(f.upstreams) == 0 {
		w.write(r, r.simpleAnswer(dns.RcodeServerFailure, false, nil))
		return
	}
	select {
	case f.inflight <- struct{}{}:
	default:
		// Saturated, most likely by a dead upstream: failing now is
		// kinder than queueing past the client's timeout.
		w.write(r, r.simpleAnswer(dns.RcodeServerFailure, false, nil))
		return
	}
	c := r.clone()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer func() { <-f.inflight }()
		f.forward(ctx, w, c)
	}()
}

func (f *forwarder) forward(ctx context.Context, w responseWriter, r *request) {
	var q dns.Msg
	if err := q.Unpack(r.wire); err != nil || len(q.Question) != 1 {
		w.write(r, r.simpleAnswer(dns.RcodeFormatError, false, nil))
		return
	}
	// A fresh query, not the client's bytes: our own ID, only the question
	// and our EDNS options go upstream.
	out := &dns.Msg{
		MsgHdr:   dns.MsgHdr{Id: dns.Id(), RecursionDesired: true, CheckingDisabled: r.cd()},
		Question: q.Question,
	}
	if r.edns {
		out.SetEdns0(ourEDNSSize, r.do)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp := f.exchange(ctx, out)
	if resp == nil {
		w.write(r, r.simpleAnswer(dns.RcodeServerFailure, false, nil))
		return
	}
	resp.Id = r.id
	resp.Question = q.Question // the client's spelling
	resp.RecursionDesired = r.rd()
	resp.RecursionAvailable = true
	resp.Authoritative = false
	resp.Extra = withoutOPT(resp.Extra)
	if r.edns {
		resp.SetEdns0(ourEDNSSize, r.do)
	}
	b, err := resp.Pack()
	if err != nil {
		f.log.Debug("cannot repack upstream answer", "name", q.Question[0].Name, "err", err)
		w.write(r, r.simpleAnswer(dns.RcodeServerFailure, false, nil))
		return
	}
	w.write(r, b)
}

// exchange returns the first usable answer, or nil.
func (f *forwarder) exchange(ctx context.Context, q *dns.Msg) *dns.Msg {
	per := f.timeout / time.Duration(len(f.upstreams))
	per = max(per, 100*time.Millisecond)
	var fallback *dns.Msg
	for _, up := range f.upstreams {
		if ctx.Err() != nil {
			break
		}
		f.m.forwarded.Inc()
		resp, err := f.try(ctx, q, up, "udp", per)
		if err == nil && resp.Truncated {
			resp, err = f.try(ctx, q, up, "tcp", per)
		}
		if err != nil {
			f.log.Debug("upstream failed", "upstream", up, "name", q.Question[0].Name, "err", err)
			continue
		}
		if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, q.Question[0].Name) ||
			resp.Question[0].Qtype != q.Question[0].Qtype {
			f.log.Debug("upstream answered another question", "upstream", up)
			continue
		}
		if resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			fallback = resp // another upstream may do better
			continue
		}
		return resp
	}
	return fallback
}

func (f *forwarder) try(ctx context.Context, q *dns.Msg, up, network string, timeout time.Duration) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: timeout, UDPSize: maxUDPEDNS}
	resp, _, err := c.ExchangeContext(ctx, q, up)
	return resp, err
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	out := rrs[:0]
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}
