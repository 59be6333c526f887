package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// newCreateServiceCommand is kubectl's `create service clusterip|nodeport`:
// a service selecting app=NAME on the ports of --tcp.
func newCreateServiceCommand(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "service",
		Aliases: []string{"svc"},
		Short:   "Create a ClusterIP, NodePort or LoadBalancer service",
		Example: `  skiff create service clusterip web --tcp=80:8080
  skiff create service clusterip db --clusterip=None --tcp=5432
  skiff create service nodeport web --tcp=80:8080 --node-port=30080
  skiff create service loadbalancer web --tcp=80:8080`,
	}
	cmd.AddCommand(newCreateServiceTypeCommand(e, skiffv1.ServiceTypeClusterIP), newCreateServiceTypeCommand(e, skiffv1.ServiceTypeNodePort),
		newCreateServiceTypeCommand(e, skiffv1.ServiceTypeLoadBalancer))
	return cmd
}

func newCreateServiceTypeCommand(e *env, typ string) *cobra.Command {
	var o createOutput
	var tcp []string
	var clusterIP string
	var nodePort int32
	use := strings.ToLower(typ)
	cmd := &cobra.Command{
		Use:   use + " NAME --tcp=PORT[:TARGET_PORT] [...]",
		Short: "Create a " + typ + " service selecting app=NAME",
		Long: `Create a ` + typ + ` service as kubectl create service does: it selects the
pods labelled app=NAME (as skiff create deployment labels them) and has a
port for each --tcp=PORT[:TARGET_PORT], named "PORT-TARGET_PORT".`,
		Example: "  skiff create service " + use + " web --tcp=80:8080",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if len(tcp) == 0 && clusterIP != skiffv1.ClusterIPNone {
				return fmt.Errorf("give the ports: --tcp=PORT[:TARGET_PORT]")
			}
			if err := checkPort("--node-port", nodePort); err != nil {
				return err
			}
			if nodePort != 0 && len(tcp) != 1 {
				return fmt.Errorf("--node-port goes with exactly one --tcp port")
			}
			app := map[string]string{"app": name}
			svc := &skiffv1.Service{
				Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: e.ns(), Labels: app},
				Spec:     &skiffv1.ServiceSpec{Type: typ, Selector: app, ClusterIp: clusterIP},
			}
			for _, t := range tcp {
				port, target, paired := strings.Cut(t, ":")
				if !paired {
					target = port
				}
				n, err := strconv.Atoi(port)
				if err != nil || n < 1 || n > 65535 {
					return fmt.Errorf("--tcp=%s: the port %q must be a number from 1 to 65535", t, port)
				}
				if tn, err := strconv.Atoi(target); target == "" || (err == nil && (tn < 1 || tn > 65535)) {
					return fmt.Errorf("--tcp=%s: the target port %q must be from 1 to 65535, or a container port's name", t, target)
				}
				svc.Spec.Ports = append(svc.Spec.Ports, &skiffv1.ServicePort{
					Name: port + "-" + target, Port: int32(n), TargetPort: target, Protocol: "TCP", NodePort: nodePort,
				})
			}
			return o.finish(cmd, e, "created", svc)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&tcp, "tcp", nil, "a port and the pods' port it sends to, PORT[:TARGET_PORT] (repeatable)")
	if typ == skiffv1.ServiceTypeClusterIP {
		f.StringVar(&clusterIP, "clusterip", "", `the service's cluster IP; "None" makes a headless service`)
	} else {
		f.Int32Var(&nodePort, "node-port", 0, "the port every node answers on (default: one allocated)")
	}
	o.addFlags(cmd)
	return cmd
}
