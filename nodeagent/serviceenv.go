package nodeagent

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// indexNamespace files the agent's Services by namespace.
const indexNamespace = "namespace"

// newServicesInformer follows every Service, filed by namespace.
func newServicesInformer(c *client.Client, log *slog.Logger) *client.Informer[*skiffv1.Service] {
	inf := client.NewInformer(c.Services(), client.ListOptions{}, log)
	// A fresh informer has no index of that name: no error.
	_ = inf.AddIndex(indexNamespace, func(s *skiffv1.Service) []string { return []string{s.GetMetadata().GetNamespace()} })
	return inf
}

// masterNamespace/masterService is the Service whose variables every
// container gets, whatever its namespace and enableServiceLinks say (the
// API server's, when a cluster has one).
const (
	masterNamespace = "default"
	masterService   = "kubernetes"
)

// serviceEnv is the variables the kubelet gives a container for the
// Services it may link to (Docker's link variables): those of the pod's
// own namespace unless enableServiceLinks is false, and always
// default/kubernetes. Services without a ClusterIP (headless) give none.
func (a *Agent) serviceEnv(ctx context.Context, pod *skiffv1.Pod) (map[string]string, error) {
	if a.services == nil {
		return nil, nil
	}
	if err := a.waitForServices(ctx); err != nil {
		return nil, err
	}
	ns := pod.GetMetadata().GetNamespace()
	links := pod.GetSpec().EnableServiceLinks == nil || pod.GetSpec().GetEnableServiceLinks()
	var svcs []*skiffv1.Service
	if links {
		svcs = a.services.ByIndex(indexNamespace, ns)
	}
	if !links || ns != masterNamespace {
		if m, ok := a.services.Get(client.Key(masterNamespace, masterService)); ok {
			svcs = append(svcs, m)
		}
	}
	return serviceLinkVars(svcs), nil
}

// waitForServices waits for the Services cache's first list: a pod worker
// may start before it, and a container started then would miss its
// service variables, a pod its cluster DNS (the kubelet refuses to make a
// container's variables until its service informer has synced).
func (a *Agent) waitForServices(ctx context.Context) error {
	if a.services == nil || a.services.WaitForSync(ctx) {
		return nil
	}
	return fmt.Errorf("waiting for the Services cache: %w", context.Cause(ctx))
}

// serviceLinkVars makes, for each service NAME (upper case, '-' as '_')
// with a ClusterIP: NAME_SERVICE_HOST, NAME_SERVICE_PORT (its first port),
// NAME_SERVICE_PORT_<PORT NAME> for named ports, NAME_PORT
// (tcp://IP:PORT of the first port) and, for each port,
// NAME_PORT_<PORT>_<PROTO> with its _PROTO, _PORT and _ADDR.
func serviceLinkVars(svcs []*skiffv1.Service) map[string]string {
	env := map[string]string{}
	for _, s := range svcs {
		ip, err := netip.ParseAddr(s.GetSpec().GetClusterIp())
		if err != nil || len(s.GetSpec().GetPorts()) == 0 {
			continue
		}
		name := envName(s.GetMetadata().GetName())
		host := ip.String()
		for i, p := range s.GetSpec().GetPorts() {
			port := strconv.Itoa(int(p.GetPort()))
			proto := strings.ToLower(p.GetProtocol())
			if proto == "" {
				proto = "tcp"
			}
			url := proto + "://" + netip.AddrPortFrom(ip, uint16(p.GetPort())).String()
			if i == 0 {
				env[name+"_SERVICE_HOST"] = host
				env[name+"_SERVICE_PORT"] = port
				env[name+"_PORT"] = url
			}
			if p.GetName() != "" {
				env[name+"_SERVICE_PORT_"+envName(p.GetName())] = port
			}
			prefix := name + "_PORT_" + port + "_" + strings.ToUpper(proto)
			env[prefix] = url
			env[prefix+"_PROTO"] = proto
			env[prefix+"_PORT"] = port
			env[prefix+"_ADDR"] = host
		}
	}
	return env
}

func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }
