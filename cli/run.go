package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// runFlags are kubectl run's flags that skiff keeps.
type runFlags struct {
	createOutput
	image       string
	port        int32
	env         []string
	labels      string
	annotations []string
	restart     string
	pullPolicy  string
	command     bool
	expose      bool
	attach      bool // -i, -t, --rm, --attach: refused with what to do instead
}

// newRunCommand is kubectl's `run`: one pod of one container named NAME,
// labelled run=NAME; with --expose, a ClusterIP service in front of it.
func newRunCommand(e *env) *cobra.Command {
	var r runFlags
	cmd := &cobra.Command{
		Use:   "run NAME --image=IMAGE [--port=PORT] [--env=KEY=VALUE] [--restart=Never] [--command] [-- COMMAND|ARG...]",
		Short: "Run an image in a pod of its own",
		Long: `Run an image as a single pod, as kubectl run does: the container is named
NAME and the pod labelled run=NAME (or --labels). Words after -- are the
container's arguments, or with --command its command. --expose with --port
also makes a ClusterIP service of the same name.

skiff run does not attach to the container (-i, -t, --rm): start the pod,
then use skiff exec -it NAME -- sh, or skiff logs -f NAME.`,
		Example: `  skiff run web --image=nginx:1.27 --port=80 --expose
  skiff run once --image=busybox --restart=Never -- echo hello
  skiff run shell --image=busybox --command -- sleep 3600
  skiff wait pod/shell --for=condition=Ready && skiff exec -it shell -- sh
  skiff run web --image=nginx --dry-run=client -o yaml > pod.yaml`,
		Args: nameThenCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, err := r.objects(args[0], e.ns(), args[1:])
			if err != nil {
				return err
			}
			return r.finish(cmd, e, "created", objs...)
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.image, "image", "", "the image to run")
	f.Int32Var(&r.port, "port", 0, "the port the container serves on (with --expose, the service's port too)")
	f.StringArrayVar(&r.env, "env", nil, "an environment variable, KEY=VALUE (repeatable)")
	f.StringVarP(&r.labels, "labels", "l", "", "the pod's labels, KEY=VALUE,… (default run=NAME)")
	f.StringArrayVar(&r.annotations, "annotations", nil, "an annotation, KEY=VALUE (repeatable)")
	f.StringVar(&r.restart, "restart", "Always", "the pod's restart policy: Always, OnFailure or Never")
	f.StringVar(&r.pullPolicy, "image-pull-policy", "", "Always, IfNotPresent or Never (default: the server's, from the image's tag)")
	f.BoolVar(&r.command, "command", false, "the words after -- are the command, not arguments to the image's entrypoint")
	f.BoolVar(&r.expose, "expose", false, "also make a ClusterIP service NAME on --port in front of the pod")
	for _, fl := range [][2]string{{"stdin", "i"}, {"tty", "t"}, {"rm", ""}, {"attach", ""}} {
		f.BoolVarP(&r.attach, fl[0], fl[1], false, "not supported: use skiff exec -it after the pod runs")
		f.Lookup(fl[0]).Hidden = true
	}
	r.createOutput.addFlags(cmd)
	return cmd
}

// objects are the pod (and with --expose its service, made first as
// kubectl does) that r describes.
func (r *runFlags) objects(name, ns string, words []string) ([]skiffv1.Resource, error) {
	if r.attach {
		return nil, fmt.Errorf("skiff run does not attach to a container (-i, -t, --rm, --attach); run the pod, then: skiff exec -it %s -- sh", name)
	}
	if r.image == "" {
		return nil, errors.New("give the image to run: --image=IMAGE")
	}
	if err := checkPort("--port", r.port); err != nil {
		return nil, err
	}
	if r.expose && r.port == 0 {
		return nil, errors.New("--expose needs --port: the port the service forwards to")
	}
	switch r.restart {
	case "Always", "OnFailure", "Never":
	default:
		return nil, fmt.Errorf("--restart=%s: use Always, OnFailure or Never", r.restart)
	}
	switch r.pullPolicy {
	case "", "Always", "IfNotPresent", "Never":
	default:
		return nil, fmt.Errorf("--image-pull-policy=%s: use Always, IfNotPresent or Never", r.pullPolicy)
	}
	podLabels := map[string]string{"run": name}
	if r.labels != "" {
		var err error
		if podLabels, err = parseLabelSet("--labels", r.labels); err != nil {
			return nil, err
		}
	}
	ctr := &skiffv1.Container{Name: name, Image: r.image, ImagePullPolicy: r.pullPolicy}
	if r.command {
		ctr.Command = words
	} else {
		ctr.Args = words
	}
	if r.port != 0 {
		ctr.Ports = []*skiffv1.ContainerPort{{ContainerPort: r.port}}
	}
	for _, kv := range r.env {
		k, v, err := keyValue("--env", kv)
		if err != nil {
			return nil, err
		}
		ctr.Env = append(ctr.Env, &skiffv1.EnvVar{Name: k, Value: v})
	}
	pod := &skiffv1.Pod{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: ns, Labels: podLabels},
		Spec:     &skiffv1.PodSpec{Containers: []*skiffv1.Container{ctr}, RestartPolicy: r.restart},
	}
	for _, kv := range r.annotations {
		k, v, err := keyValue("--annotations", kv)
		if err != nil {
			return nil, err
		}
		if pod.Metadata.Annotations == nil {
			pod.Metadata.Annotations = map[string]string{}
		}
		pod.Metadata.Annotations[k] = v
	}
	if !r.expose {
		return []skiffv1.Resource{pod}, nil
	}
	svc := &skiffv1.Service{
		Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: ns, Labels: podLabels},
		Spec: &skiffv1.ServiceSpec{
			Type:     skiffv1.ServiceTypeClusterIP,
			Selector: podLabels,
			Ports:    []*skiffv1.ServicePort{{Port: r.port, TargetPort: fmt.Sprint(r.port), Protocol: "TCP"}},
		},
	}
	return []skiffv1.Resource{svc, pod}, nil
}

// keyValue splits one KEY=VALUE flag value.
func keyValue(flag, kv string) (key, value string, err error) {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("%s=%s: give KEY=VALUE", flag, kv)
	}
	return k, v, nil
}
