package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// exposeFlags are kubectl expose's flags that skiff's services have.
type exposeFlags struct {
	createOutput
	name            string
	port            int32
	targetPort      string
	protocol        string
	serviceType     string
	selector        string
	labels          string
	clusterIP       string
	sessionAffinity string
}

// newExposeCommand is kubectl's `expose`: a Service in front of the pods
// of a deployment, replica set, pod or service, found by their selector
// (or labels) and their containers' ports.
func newExposeCommand(e *env) *cobra.Command {
	var x exposeFlags
	cmd := &cobra.Command{
		Use:   "expose (deployment|replicaset|replicationcontroller|pod|service) NAME [--port=PORT] [--target-port=PORT] [--type=ClusterIP|NodePort|LoadBalancer] [--name=NAME]",
		Short: "Make a service in front of a deployment's, replica set's or pod's pods",
		Long: `Make a Service that sends to the pods an object selects, as kubectl expose
does: a deployment's or replica set's selector, a pod's labels or another
service's selector. Without --port, the service gets one port for each
port the pods' containers declare; --target-port (a number or a container
port's name) defaults to the port itself. The service is named after the
object unless --name says otherwise, and carries its labels.`,
		Example: `  skiff create deployment web --image=nginx:1.27 --port=80
  skiff expose deployment web
  skiff expose deploy/web --port=8080 --target-port=80 --type=NodePort --name=web-public
  skiff expose pod db --port=5432 --dry-run=client -o yaml > svc.yaml`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, name, err := exposeTarget(args)
			if err != nil {
				return err
			}
			if err := x.check(); err != nil {
				return err
			}
			var svc *skiffv1.Service
			err = e.withClient(cmd, func(ctx context.Context, c *client.Client) error {
				obj, err := getObject(ctx, c, info, e.ns(), name)
				if err != nil {
					return err
				}
				svc, err = x.service(obj)
				return err
			})
			if err != nil {
				return err
			}
			return x.finish(cmd, e, "exposed", svc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&x.name, "name", "", "the service's name (default: the object's)")
	f.Int32Var(&x.port, "port", 0, "the service's port (default: each port the pods' containers declare)")
	f.StringVar(&x.targetPort, "target-port", "", "the pods' port the service sends to: a number or a container port's name (default: the port)")
	f.StringVar(&x.protocol, "protocol", "", "TCP or UDP (default: the container port's, else TCP)")
	f.StringVar(&x.serviceType, "type", skiffv1.ServiceTypeClusterIP, "ClusterIP, NodePort or LoadBalancer")
	f.StringVar(&x.selector, "selector", "", "the pods to send to, KEY=VALUE,… (default: the object's selector or labels)")
	f.StringVarP(&x.labels, "labels", "l", "", "the service's labels, KEY=VALUE,… (default: the object's)")
	f.StringVar(&x.clusterIP, "cluster-ip", "", `the service's cluster IP; "None" makes a headless service (default: one allocated)`)
	f.StringVar(&x.sessionAffinity, "session-affinity", "", "None or ClientIP: send a client to the same pod each time")
	x.createOutput.addFlags(cmd)
	return cmd
}

// exposeTarget reads "KIND NAME" or "KIND/NAME" for a kind expose knows.
func exposeTarget(args []string) (skiffv1.KindInfo, string, error) {
	info, name, err := kindAndName(args)
	if err != nil {
		return info, "", err
	}
	switch info.Kind {
	case skiffv1.Kind_KIND_DEPLOYMENT, skiffv1.Kind_KIND_REPLICA_SET, skiffv1.Kind_KIND_REPLICATION_CONTROLLER, skiffv1.Kind_KIND_POD, skiffv1.Kind_KIND_SERVICE:
	default:
		return info, "", fmt.Errorf("cannot expose a %s: give a deployment, replicaset, replicationcontroller, pod or service", info.Name)
	}
	if name == "" {
		return info, "", fmt.Errorf("give the %s's name: skiff expose %s NAME", lower(info), lower(info))
	}
	return info, name, nil
}

// service is the Service x makes in front of obj's pods.
func (x *exposeFlags) service(obj skiffv1.Resource) (*skiffv1.Service, error) {
	meta := obj.GetMetadata()
	selector, ports, err := podsOf(obj)
	if err != nil {
		return nil, err
	}
	if x.selector != "" {
		if selector, err = parseLabelSet("--selector", x.selector); err != nil {
			return nil, err
		}
	}
	if len(selector) == 0 {
		return nil, fmt.Errorf("%s has no labels to select its pods by; give --selector=KEY=VALUE", quotedName(infoOf(obj), meta.GetName()))
	}
	if err := checkPort("--port", x.port); err != nil {
		return nil, err
	}
	switch x.protocol {
	case "", "TCP", "UDP":
	default:
		return nil, fmt.Errorf("--protocol=%s: use TCP or UDP", x.protocol)
	}
	if x.port != 0 {
		ports = []*skiffv1.ServicePort{{Port: x.port, Protocol: "TCP"}}
	}
	if len(ports) == 0 {
		return nil, fmt.Errorf("%s declares no container port; give --port=PORT", quotedName(infoOf(obj), meta.GetName()))
	}
	for _, p := range ports {
		p.TargetPort = strconv.Itoa(int(p.Port))
		if x.targetPort != "" {
			p.TargetPort = x.targetPort
		}
		if x.protocol != "" {
			p.Protocol = x.protocol
		}
	}
	lbls := maps.Clone(meta.GetLabels())
	if x.labels != "" {
		if lbls, err = parseLabelSet("--labels", x.labels); err != nil {
			return nil, err
		}
	}
	name := x.name
	if name == "" {
		name = meta.GetName()
	}
	return &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: meta.GetNamespace(), Labels: lbls},
		Spec: &skiffv1.ServiceSpec{
			Type: x.serviceType, Selector: selector, Ports: ports,
			ClusterIp: x.clusterIP, SessionAffinity: x.sessionAffinity,
		},
	}, nil
}

// podsOf is what selects obj's pods and the ports they declare, as
// service ports (named when there are several: the container port's
// name, else port-N).
func podsOf(obj skiffv1.Resource) (map[string]string, []*skiffv1.ServicePort, error) {
	var sel *skiffv1.LabelSelector
	var spec *skiffv1.PodSpec
	switch o := obj.(type) {
	case *skiffv1.Pod:
		return maps.Clone(o.GetMetadata().GetLabels()), containerPorts(o.GetSpec()), nil
	case *skiffv1.Service:
		var ports []*skiffv1.ServicePort
		for _, p := range o.GetSpec().GetPorts() {
			ports = append(ports, &skiffv1.ServicePort{Name: p.GetName(), Port: p.GetPort(), Protocol: p.GetProtocol()})
		}
		return maps.Clone(o.GetSpec().GetSelector()), ports, nil
	case *skiffv1.Deployment:
		sel, spec = o.GetSpec().GetSelector(), o.GetSpec().GetTemplate().GetSpec()
	case *skiffv1.ReplicaSet:
		sel, spec = o.GetSpec().GetSelector(), o.GetSpec().GetTemplate().GetSpec()
	case *skiffv1.ReplicationController:
		sel, spec = &skiffv1.LabelSelector{MatchLabels: o.GetSpec().GetSelector()}, o.GetSpec().GetTemplate().GetSpec()
	}
	if len(sel.GetMatchExpressions()) > 0 {
		return nil, nil, errors.New("its selector has matchExpressions, which a service cannot use; give --selector=KEY=VALUE")
	}
	return maps.Clone(sel.GetMatchLabels()), containerPorts(spec), nil
}

// containerPorts are a pod's declared ports as service ports, each
// number and protocol once.
func containerPorts(spec *skiffv1.PodSpec) []*skiffv1.ServicePort {
	type key struct {
		port     int32
		protocol string
	}
	seen := map[key]bool{}
	var out []*skiffv1.ServicePort
	for _, c := range spec.GetContainers() {
		for _, p := range c.GetPorts() {
			proto := p.GetProtocol()
			if proto == "" {
				proto = "TCP"
			}
			k := key{p.GetContainerPort(), proto}
			if k.port == 0 || seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, &skiffv1.ServicePort{Name: p.GetName(), Port: k.port, Protocol: proto})
		}
	}
	if len(out) > 1 {
		for i, p := range out {
			if p.Name == "" {
				p.Name = fmt.Sprintf("port-%d", i+1)
			}
		}
	} else if len(out) == 1 {
		out[0].Name = ""
	}
	return out
}

// infoOf is the kind of a typed object.
func infoOf(obj skiffv1.Resource) skiffv1.KindInfo {
	info, _ := skiffv1.Info(skiffv1.KindOf(obj))
	return info
}
