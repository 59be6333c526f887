package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Resolver is the content of a resolv.conf: what a pod's dnsPolicy and
// dnsConfig decide.
type Resolver struct {
	Nameservers []string
	Searches    []string
	Options     []ResolverOption
}

// ResolverOption is one "options" entry: ndots:5 is {ndots, "5"}.
type ResolverOption struct {
	Name     string
	Value    string
	HasValue bool
}

// Limits of the resolver (glibc) that Kubernetes keeps pods within.
const (
	maxNameservers = 3
	maxSearches    = 32
)

// ParseResolvConf reads a host's resolv.conf (nameserver, search, domain,
// options lines; comments skipped).
func ParseResolvConf(b []byte) Resolver {
	var r Resolver
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				r.Nameservers = append(r.Nameservers, f[1])
			}
		case "search", "domain":
			// The last of them wins, as in the resolver.
			r.Searches = slices.Clone(f[1:])
		case "options":
			for _, o := range f[1:] {
				r.Options = mergeOption(r.Options, parseOption(o))
			}
		}
	}
	return r
}

func parseOption(s string) ResolverOption {
	n, v, ok := strings.Cut(s, ":")
	return ResolverOption{Name: n, Value: v, HasValue: ok}
}

func mergeOption(list []ResolverOption, o ResolverOption) []ResolverOption {
	for i := range list {
		if list[i].Name == o.Name {
			list[i] = o
			return list
		}
	}
	return append(list, o)
}

// ClusterFirst is the resolver of a pod with dnsPolicy ClusterFirst: the
// cluster DNS server, the search path of its namespace, ndots:5.
func ClusterFirst(dns netip.Addr, namespace, domain string) Resolver {
	return ParseResolvConf(ResolvConf(dns, namespace, domain))
}

// With adds a pod's dnsConfig to r as Kubernetes does: nameservers and
// searches appended without duplicates, options overriding those of the
// same name.
func (r Resolver) With(extra Resolver) Resolver {
	out := Resolver{Nameservers: slices.Clone(r.Nameservers), Searches: slices.Clone(r.Searches), Options: slices.Clone(r.Options)}
	for _, n := range extra.Nameservers {
		if !slices.Contains(out.Nameservers, n) {
			out.Nameservers = append(out.Nameservers, n)
		}
	}
	for _, s := range extra.Searches {
		if !slices.Contains(out.Searches, s) {
			out.Searches = append(out.Searches, s)
		}
	}
	for _, o := range extra.Options {
		out.Options = mergeOption(out.Options, o)
	}
	return out
}

// Render writes r as a resolv.conf, within the resolver's limits.
func (r Resolver) Render() []byte {
	var b bytes.Buffer
	b.WriteString("# Managed by skiff.\n")
	for i, n := range r.Nameservers {
		if i == maxNameservers {
			break
		}
		fmt.Fprintf(&b, "nameserver %s\n", n)
	}
	if s := r.Searches; len(s) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(s[:min(len(s), maxSearches)], " "))
	}
	if len(r.Options) > 0 {
		opts := make([]string, len(r.Options))
		for i, o := range r.Options {
			opts[i] = o.Name
			if o.HasValue {
				opts[i] += ":" + o.Value
			}
		}
		fmt.Fprintf(&b, "options %s\n", strings.Join(opts, " "))
	}
	return b.Bytes()
}

// HostAlias is one extra /etc/hosts line of a pod.
type HostAlias struct {
	IP        string
	Hostnames []string
}

// WithHostAliases appends a pod's hostAliases to its hosts file, as the
// kubelet does.
func WithHostAliases(hosts []byte, aliases []HostAlias) []byte {
	if len(aliases) == 0 {
		return hosts
	}
	var b bytes.Buffer
	b.Write(hosts)
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.Bytes()
}
