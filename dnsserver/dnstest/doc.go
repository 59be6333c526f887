// Package dnstest holds test helpers for DNS servers, after CoreDNS's
// plugin/test: table cases {Qname, Qtype, Rcode, Answer, Ns, Extra}, a
// checker that compares answers record by record, and a fake upstream
// server on 127.0.0.1 so no test ever asks a real resolver.
package dnstest
