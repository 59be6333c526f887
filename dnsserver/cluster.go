package dnsserver

import (
	"context"

	"github.com/miekg/dns"
)

// clusterHandler answers the cluster domain and the reverse names of pod
// IPs from the zone. Names under the domain that the zone lacks get
// NXDOMAIN; any other name it lacks (including reverse names of other
// IPs) goes on down the chain.
type clusterHandler struct {
	z    *zone
	next handler
}

func (h *clusterHandler) name() string { return "cluster" }

func (h *clusterHandler) serveDNS(ctx context.Context, w responseWriter, r *request) {
	e := h.z.lookup(r.key)
	if e == nil {
		if h.z.contains(r.key) {
			w.write(r, r.simpleAnswer(dns.RcodeNameError, true, h.z.soaDomain))
			return
		}
		h.next.serveDNS(ctx, w, r)
		return
	}
	p := e.answer(r.qtype)
	if p == nil {
		w.write(r, r.simpleAnswer(dns.RcodeSuccess, true, e.soa))
		return
	}
	// The client's random query ID picks the rotation: no shared counter.
	w.write(r, r.packedAnswer(p, int(r.id)))
}
