package dnsserver

import "context"

// handler is one link of the chain, as a CoreDNS plugin is: it answers
// the request through w, or passes it to the next link it holds. A handler
// that answers later, from another goroutine, must take r.clone() first:
// the serving loops reuse r for the next packet once serveDNS returns.
type handler interface {
	name() string
	serveDNS(ctx context.Context, w responseWriter, r *request)
}

// responseWriter sends the answer to one request; write is called at most
// once per request. For UDP it truncates (TC) an answer longer than the
// client accepts.
type responseWriter interface {
	write(r *request, b []byte)
}

// link is a constructor of one handler around the next.
type link func(next handler) handler

// chain builds the handlers in the order given: the first sees each
// request first. The last link gets a nil next and must answer.
func chain(links ...link) handler {
	var h handler
	for i := len(links) - 1; i >= 0; i-- {
		h = links[i](h)
	}
	return h
}
