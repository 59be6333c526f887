package nodeagent

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/defaults"
	"github.com/skiff-sh/skiff/nodeagent/network"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// podResolvConf renders the pod's /etc/resolv.conf per its dnsPolicy:
// ClusterFirst (and ClusterFirstWithHostNet: skiff has no host network)
// the cluster DNS, Default the node's resolver, None only dnsConfig; the
// pod's dnsConfig is added to each.
func (a *Agent) podResolvConf(pod *skiffv1.Pod) ([]byte, error) {
	var base network.Resolver
	switch p := pod.GetSpec().GetDnsPolicy(); p {
	case "", "ClusterFirst", "ClusterFirstWithHostNet":
		dns, err := a.clusterDNS()
		if err != nil {
			return nil, err
		}
		base = network.ClusterFirst(dns, pod.Metadata.Namespace, a.cfg.ClusterDomain)
	case "Default":
		b, err := os.ReadFile(a.cfg.ResolvConf)
		if err != nil {
			return nil, fmt.Errorf("dnsPolicy Default: the node's resolver: %w", err)
		}
		base = network.ParseResolvConf(b)
	case "None":
	default:
		return nil, fmt.Errorf("dnsPolicy %q is not one of ClusterFirst, ClusterFirstWithHostNet, Default, None", p)
	}
	c := pod.GetSpec().GetDnsConfig()
	extra := network.Resolver{Nameservers: c.GetNameservers(), Searches: c.GetSearches()}
	for _, o := range c.GetOptions() {
		extra.Options = append(extra.Options, network.ResolverOption{Name: o.Name, Value: o.GetValue(), HasValue: o.Value != nil})
	}
	return base.With(extra).Render(), nil
}

// clusterDNS is ClusterFirst pods' nameserver: --cluster-dns when given;
// else the ClusterIP of the Service kube-system/kube-dns when the cluster
// has it (servers that serve DNS keep it, its Endpoints their DNS
// addresses, and the proxy sends each query to a live one), as kubelet's
// --cluster-dns names kube-dns' ClusterIP; else the node bridge's
// address, where `skiff up` serves DNS.
func (a *Agent) clusterDNS() (netip.Addr, error) {
	if a.cfg.ClusterDNS != "" {
		ip, err := netip.ParseAddr(a.cfg.ClusterDNS)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("cluster DNS address %q: %w", a.cfg.ClusterDNS, err)
		}
		return ip, nil
	}
	if a.services != nil {
		if s, ok := a.services.Get(client.Key(defaults.SystemNamespace, defaults.DNSService)); ok {
			if ip, err := netip.ParseAddr(s.GetSpec().GetClusterIp()); err == nil && ip.Is4() {
				return ip, nil
			}
		}
	}
	if a.net == nil {
		return netip.Addr{}, errors.New("no cluster DNS: --cluster-dns is unset and the node network is not up")
	}
	return a.net.Gateway(), nil
}

func hostAliases(pod *skiffv1.Pod) []network.HostAlias {
	var out []network.HostAlias
	for _, h := range pod.GetSpec().GetHostAliases() {
		out = append(out, network.HostAlias{IP: h.Ip, Hostnames: h.Hostnames})
	}
	return out
}

// hostPorts are the ports the pod's containers publish on the node.
func hostPorts(pod *skiffv1.Pod) []network.HostPort {
	var out []network.HostPort
	for _, c := range pod.GetSpec().GetContainers() {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				out = append(out, network.HostPort{HostPort: uint16(p.HostPort), ContainerPort: uint16(p.ContainerPort), Protocol: p.Protocol})
			}
		}
	}
	return out
}
