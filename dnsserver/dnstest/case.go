package dnstest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Case is one query and the answer expected for it. Sections are compared
// as sets; SOA records match on owner name only (serials move).
type Case struct {
	Qname string
	Qtype uint16
	Rcode int
	Do    bool // set the DNSSEC OK bit (and so send EDNS0)

	Answer []dns.RR
	Ns     []dns.RR
	Extra  []dns.RR

	// Truncated, when set, is the expected TC bit.
	Truncated *bool
}

// Msg is the query for c.
func (c Case) Msg() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(c.Qname), c.Qtype)
	if c.Do {
		m.SetEdns0(4096, true)
	}
	return m
}

// RR parses a record in zone-file syntax; it panics on a typo, which in a
// test table is what we want.
func RR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(fmt.Sprintf("dnstest: bad record %q: %v", s, err))
	}
	return rr
}

// Check compares an answer with the case and says what differs.
func Check(c Case, resp *dns.Msg) error {
	if resp == nil {
		return fmt.Errorf("%s %s: no answer", c.Qname, dns.TypeToString[c.Qtype])
	}
	var errs []string
	if resp.Rcode != c.Rcode {
		errs = append(errs, fmt.Sprintf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[c.Rcode]))
	}
	if c.Truncated != nil && resp.Truncated != *c.Truncated {
		errs = append(errs, fmt.Sprintf("TC %v, want %v", resp.Truncated, *c.Truncated))
	}
	for _, s := range []struct {
		name      string
		got, want []dns.RR
	}{{"answer", resp.Answer, c.Answer}, {"authority", resp.Ns, c.Ns}, {"additional", withoutOPT(resp.Extra), c.Extra}} {
		g, w := render(s.got), render(s.want)
		if !slices.Equal(g, w) {
			errs = append(errs, fmt.Sprintf("%s:\n  got  %s\n  want %s", s.name, strings.Join(g, "\n       "), strings.Join(w, "\n       ")))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s %s: %s", c.Qname, dns.TypeToString[c.Qtype], strings.Join(errs, "; "))
	}
	return nil
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}

// render prints records in lower case, sorted; an SOA as its owner only.
func render(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			out = append(out, strings.ToLower(soa.Hdr.Name)+" SOA")
			continue
		}
		out = append(out, strings.ToLower(strings.ReplaceAll(rr.String(), "\t", " ")))
	}
	slices.Sort(out)
	return out
}
