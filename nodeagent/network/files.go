package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/skiff-sh/skiff/defaults"
)

// HostsFile renders a pod's /etc/hosts: localhost lines, then the pod's IP
// with its hostname (and the pod name if it differs), as the kubelet does.
func HostsFile(podIP netip.Addr, hostname string, aliases ...string) []byte {
	var b bytes.Buffer
	b.WriteString("# Managed by skiff.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	if podIP.IsValid() && hostname != "" {
		names := []string{hostname}
		for _, a := range aliases {
			if a != "" && a != hostname {
				names = append(names, a)
			}
		}
		fmt.Fprintf(&b, "%s\t%s\n", podIP, strings.Join(names, " "))
	}
	return b.Bytes()
}

// ResolvConf renders a pod's /etc/resolv.conf: the cluster DNS server, the
// Kubernetes search path for the pod's namespace, ndots:5.
func ResolvConf(dns netip.Addr, namespace, domain string) []byte {
	if domain == "" {
		domain = defaults.ClusterDomain
	}
	domain = strings.TrimSuffix(domain, ".")
	var b bytes.Buffer
	b.WriteString("# Managed by skiff.\n")
	if dns.IsValid() {
		fmt.Fprintf(&b, "nameserver %s\n", dns)
	}
	search := []string{"svc." + domain, domain}
	if namespace != "" {
		search = append([]string{namespace + ".svc." + domain}, search...)
	}
	fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	b.WriteString("options ndots:5\n")
	return b.Bytes()
}
