package apiserver

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/apiserver/rangealloc"
	"github.com/skiff-sh/skiff/apiserver/storage"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Claim prefixes of the values a Service holds: its ClusterIP and its node
// ports. The claims in etcd decide; the ranges only find free ones fast.
const (
	claimClusterIP = "clusterip/"
	claimNodePort  = "nodeport/"
)

// maxAllocRetries bounds the retries of a Service whose chosen value was
// claimed by another API server since the hint was read.
const maxAllocRetries = 32

// serviceAllocator gives Services their ClusterIPs (from the service CIDR)
// and node ports (NodePortMin-NodePortMax).
type serviceAllocator struct {
	ips   *rangealloc.IPRange
	ports *rangealloc.Range // offset = port - NodePortMin
}

func newServiceAllocator(cidr string) (*serviceAllocator, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("apiserver: service CIDR %q: %w", cidr, err)
	}
	ips, err := rangealloc.NewIPRange(p)
	if err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	return &serviceAllocator{ips: ips, ports: rangealloc.New(defaults.NodePortMax - defaults.NodePortMin + 1)}, nil
}

// load marks what etcd says is taken (at start, and when a range looks
// full: another API server may have released values since).
func (a *serviceAllocator) load(ctx context.Context, st *storage.Store) error {
	ips, err := st.ListClaims(ctx, claimClusterIP)
	if err != nil {
		return err
	}
	ports, err := st.ListClaims(ctx, claimNodePort)
	if err != nil {
		return err
	}
	var ipOffs, portOffs []int
	for _, c := range ips {
		if o, ok := a.offsetOf(c); ok {
			ipOffs = append(ipOffs, o)
		}
	}
	for _, c := range ports {
		if o, ok := a.offsetOf(c); ok {
			portOffs = append(portOffs, o)
		}
	}
	a.ips.Reset(ipOffs)
	a.ports.Reset(portOffs)
	return nil
}

// offsetOf finds a claim's place in its range.
func (a *serviceAllocator) offsetOf(claim string) (int, bool) {
	if v, ok := strings.CutPrefix(claim, claimClusterIP); ok {
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return 0, false
		}
		return a.ips.Offset(ip)
	}
	if v, ok := strings.CutPrefix(claim, claimNodePort); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < defaults.NodePortMin || n > defaults.NodePortMax {
			return 0, false
		}
		return n - defaults.NodePortMin, true
	}
	return 0, false
}

func (a *serviceAllocator) mark(claims []string) {
	for _, c := range claims {
		if o, ok := a.offsetOf(c); ok {
			a.rangeOf(c).Mark(o)
		}
	}
}

func (a *serviceAllocator) release(claims []string) {
	for _, c := range claims {
		if o, ok := a.offsetOf(c); ok {
			a.rangeOf(c).Release(o)
		}
	}
}

func (a *serviceAllocator) rangeOf(claim string) *rangealloc.Range {
	if strings.HasPrefix(claim, claimClusterIP) {
		return a.ips.Range
	}
	return a.ports
}

func ipClaim(ip string) string { return claimClusterIP + ip }
func portClaim(p int32) string { return claimNodePort + strconv.Itoa(int(p)) }

// serviceClaims lists the values a service holds: its ClusterIP (not
// "None") and its node ports, once each.
func serviceClaims(s *skiffv1.Service) []string {
	var out []string
	if ip := s.GetSpec().GetClusterIp(); ip != "" && ip != skiffv1.ClusterIPNone {
		out = append(out, ipClaim(ip))
	}
	for _, p := range s.GetSpec().GetPorts() {
		if c := portClaim(p.GetNodePort()); p.GetNodePort() != 0 && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// assign fills in svc's empty ClusterIP and the node ports its type needs
// from the hints, and checks the requested ones are in range. It returns
// the claims it chose itself: if one of those is taken meanwhile, another
// is tried; a requested one that is taken is the user's error.
func (a *serviceAllocator) assign(svc *skiffv1.Service) (chosen map[string]bool, err error) {
	chosen = map[string]bool{}
	spec := svc.GetSpec()
	switch ip := spec.GetClusterIp(); ip {
	case skiffv1.ClusterIPNone:
	case "":
		o, ok := a.ips.Candidate()
		if !ok {
			return nil, status.Errorf(codes.ResourceExhausted, "spec.clusterIP: no free address left in the service CIDR %s; delete a service or use clusterIP: None", a.ips.Prefix)
		}
		spec.ClusterIp = a.ips.Addr(o).String()
		chosen[ipClaim(spec.ClusterIp)] = true
	default:
		addr, err := netip.ParseAddr(ip)
		if _, ok := a.ips.Offset(addr); err != nil || !ok {
			return nil, invalid("spec.clusterIP: %s is not an address of the service CIDR %s (its network and broadcast addresses excluded); leave it out to get one", ip, a.ips.Prefix)
		}
	}
	spec.ClusterIps = []string{spec.GetClusterIp()}
	if !skiffv1.AllocatesNodePorts(spec) {
		return chosen, nil
	}
	for i, p := range spec.GetPorts() {
		if p.NodePort != 0 {
			continue
		}
		// A port of another protocol may share the number already
		// chosen for this port number, as in Kubernetes.
		for _, q := range spec.GetPorts()[:i] {
			if q.GetPort() == p.GetPort() && q.GetProtocol() != p.GetProtocol() {
				p.NodePort = q.NodePort
			}
		}
		for p.NodePort == 0 {
			o, ok := a.ports.Candidate()
			if !ok {
				return nil, status.Errorf(codes.ResourceExhausted, "spec.ports[%d].nodePort: every port of %d-%d is taken; delete a NodePort service first", i, defaults.NodePortMin, defaults.NodePortMax)
			}
			c := portClaim(int32(o + defaults.NodePortMin))
			if chosen[c] {
				continue // the cursor went round within this service
			}
			p.NodePort = int32(o + defaults.NodePortMin)
			chosen[c] = true
		}
	}
	return chosen, nil
}

// assignFresh is assign that, when a range looks full, reads what etcd
// holds once and tries again: another API server may have released values
// this one still counts as taken.
func (s *Server) assignFresh(ctx context.Context, svc *skiffv1.Service) (map[string]bool, error) {
	try := proto.Clone(svc).(*skiffv1.Service)
	chosen, err := s.services.assign(try)
	if status.Code(err) == codes.ResourceExhausted {
		if lerr := s.services.load(ctx, s.store); lerr != nil {
			return nil, lerr
		}
		try = proto.Clone(svc).(*skiffv1.Service)
		chosen, err = s.services.assign(try)
	}
	if err == nil {
		proto.Reset(svc)
		proto.Merge(svc, try)
	}
	return chosen, err
}

// heldError turns the claims another object holds into the error for the
// user (a requested value) or marks them and says to try again (a value
// the hint chose).
func (s *Server) heldError(ctx context.Context, claims []string, chosen map[string]bool) error {
	held, err := s.store.HeldClaims(ctx, claims)
	if err != nil {
		return err
	}
	s.services.mark(held)
	for _, c := range held {
		if chosen[c] {
			continue
		}
		if ip, ok := strings.CutPrefix(c, claimClusterIP); ok {
			return status.Errorf(codes.AlreadyExists, "spec.clusterIP: %s is already allocated to another service; leave clusterIP out to get a free one", ip)
		}
		return status.Errorf(codes.AlreadyExists, "spec.ports[].nodePort: %s is already allocated to another service; leave nodePort out to get a free one", strings.TrimPrefix(c, claimNodePort))
	}
	return nil
}

// createService stores a new service with the ClusterIP and node ports it
// holds, claimed in the same etcd transaction.
func (s *Server) createService(ctx context.Context, svc *skiffv1.Service, r ref) (*skiffv1.Object, error) {
	for attempt := 0; ; attempt++ {
		try := proto.Clone(svc).(*skiffv1.Service)
		chosen, err := s.assignFresh(ctx, try)
		if err != nil {
			return nil, toStatus(err, r)
		}
		claims := serviceClaims(try)
		created, err := s.store.Create(ctx, try, claims, 0)
		if err == storage.ErrClaimed {
			if err := s.heldError(ctx, claims, chosen); err != nil {
				return nil, toStatus(err, r)
			}
			if attempt < maxAllocRetries {
				continue
			}
			return nil, status.Errorf(codes.Unavailable, "%s: could not allocate its addresses after %d tries; try again", r, attempt+1)
		}
		if err != nil {
			return nil, toStatus(err, r)
		}
		s.services.mark(claims)
		return skiffv1.Wrap(created), nil
	}
}

// keepAllocated fills in what an update leaves out of the allocated values
// (a manifest re-applied without clusterIP or nodePort), as Kubernetes
// does, and refuses a changed ClusterIP.
func keepAllocated(cur, next *skiffv1.Service) error {
	if next.Spec == nil {
		next.Spec = &skiffv1.ServiceSpec{}
	}
	was, spec := cur.GetSpec(), next.Spec
	if spec.ClusterIp == "" && len(spec.ClusterIps) > 0 {
		spec.ClusterIp = spec.ClusterIps[0]
	}
	if spec.ClusterIp == "" {
		spec.ClusterIp = was.GetClusterIp()
	}
	if was.GetClusterIp() != "" && spec.ClusterIp != was.GetClusterIp() {
		return invalid("spec.clusterIP: %q → %q: the field is immutable; delete and create the service to change it", was.GetClusterIp(), spec.ClusterIp)
	}
	if len(spec.ClusterIps) == 0 && spec.ClusterIp != "" {
		spec.ClusterIps = []string{spec.ClusterIp}
	}
	if !skiffv1.IsExternal(spec) && len(spec.ExternalIps) == 0 && (skiffv1.IsExternal(was) || len(was.GetExternalIps()) > 0) &&
		spec.ExternalTrafficPolicy == was.GetExternalTrafficPolicy() {
		// A NodePort service edited into a ClusterIP one carries the
		// external policy it had; Kubernetes drops it with the type.
		spec.ExternalTrafficPolicy = ""
	}
	if spec.GetType() != skiffv1.ServiceTypeLoadBalancer {
		// The load balancer's addresses go with the type, as the
		// Kubernetes service controller clears them; so does the
		// defaulted allocateLoadBalancerNodePorts carried over.
		if next.Status != nil {
			next.Status.LoadBalancer = nil
		}
		if was.GetType() == skiffv1.ServiceTypeLoadBalancer && spec.AllocateLoadBalancerNodePorts != nil &&
			spec.GetAllocateLoadBalancerNodePorts() == was.GetAllocateLoadBalancerNodePorts() {
			spec.AllocateLoadBalancerNodePorts = nil
		}
	}
	if spec.GetType() != skiffv1.ServiceTypeNodePort && spec.GetType() != skiffv1.ServiceTypeLoadBalancer && spec.GetType() != "" {
		return nil
	}
	for _, p := range spec.GetPorts() {
		if p.NodePort != 0 {
			continue
		}
		for _, q := range was.GetPorts() {
			if q.GetPort() == p.GetPort() && q.GetProtocol() == p.GetProtocol() {
				p.NodePort = q.GetNodePort()
			}
		}
	}
	return nil
}

// updateService writes a changed service, claiming the values it newly
// holds and releasing those it gave up in the same transaction.
func (s *Server) updateService(ctx context.Context, cur, next *skiffv1.Service, curRev int64) (skiffv1.Resource, error) {
	for attempt := 0; ; attempt++ {
		try := proto.Clone(next).(*skiffv1.Service)
		chosen, err := s.assignFresh(ctx, try)
		if err != nil {
			return nil, err
		}
		had, has := serviceClaims(cur), serviceClaims(try)
		var add, release []string
		for _, c := range has {
			if !slices.Contains(had, c) {
				add = append(add, c)
			}
		}
		for _, c := range had {
			if !slices.Contains(has, c) {
				release = append(release, c)
			}
		}
		out, err := s.store.UpdateWithClaims(ctx, try, curRev, add, release)
		if err == storage.ErrClaimed {
			if err := s.heldError(ctx, add, chosen); err != nil {
				return nil, err
			}
			if attempt < maxAllocRetries {
				continue
			}
			return nil, status.Errorf(codes.Unavailable, "could not allocate the service's node ports after %d tries; try again", attempt+1)
		}
		if err != nil {
			return nil, err
		}
		s.services.mark(add)
		s.services.release(release)
		return out, nil
	}
}
