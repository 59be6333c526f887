package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// endpointsByService lists the Endpoints objects of namespace ns ("" for
// all) by "namespace/name", the key of the service each belongs to: the
// Service tables show them.
func endpointsByService(ctx context.Context, c *client.Client, ns string) (map[string]*skiffv1.Endpoints, string, error) {
	info, _ := skiffv1.Info(skiffv1.Kind_KIND_ENDPOINTS)
	objs, rv, err := listObjects(ctx, c, info, ns, "", "", client.DefaultChunkSize)
	if err != nil {
		return nil, "", err
	}
	out := make(map[string]*skiffv1.Endpoints, len(objs))
	for _, o := range objs {
		out[client.KeyOf(o)] = o.(*skiffv1.Endpoints)
	}
	return out, rv, nil
}

func endpointsRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	ep := o.(*skiffv1.Endpoints)
	return []string{
		ep.GetMetadata().GetName(),
		formatEndpoints(ep, 3),
		age(ep.GetMetadata().GetCreationTimestamp(), now),
	}, nil
}

// formatEndpoints lists the ready endpoints as ip:port, the first max of
// them (all when max is 0) and a count of the rest, as kubectl's ENDPOINTS
// column: "10.88.0.5:8080,10.88.0.6:8080 + 1 more...". Endpoints that are
// not ready (starting, failing their probe, terminating) are left out.
func formatEndpoints(ep *skiffv1.Endpoints, max int) string {
	addrs := endpointAddresses(ep, true)
	switch {
	case len(addrs) == 0:
		return "<none>"
	case max > 0 && len(addrs) > max:
		return fmt.Sprintf("%s + %d more...", strings.Join(addrs[:max], ","), len(addrs)-max)
	}
	return strings.Join(addrs, ",")
}

// endpointAddresses is every ip:port (or ip, for a slice without ports) of
// the endpoints whose ready condition is ready, slice by slice and port by
// port as kubectl orders them.
func endpointAddresses(ep *skiffv1.Endpoints, ready bool) []string {
	var out []string
	for _, s := range ep.GetSlices() {
		var ips []string
		for _, e := range s.GetEndpoints() {
			if e.GetConditions().GetReady() == ready {
				ips = append(ips, e.GetAddresses()...)
			}
		}
		if len(s.GetPorts()) == 0 {
			out = append(out, ips...)
			continue
		}
		for _, p := range s.GetPorts() {
			for _, ip := range ips {
				out = append(out, fmt.Sprintf("%s:%d", ip, p.GetPort()))
			}
		}
	}
	return out
}
