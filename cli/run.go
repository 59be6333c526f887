package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

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
	// -i, -t, --attach, --rm: attach to the container once it runs.
	stdin, tty, attach, rm, quiet bool
	podRunningTimeout             time.Duration
}

// attaching says whether run attaches to the pod instead of returning.
func (r *runFlags) attaching() bool { return r.stdin || r.tty || r.attach }

// newRunCommand is kubectl's `run`: one pod of one container named NAME,
// labelled run=NAME; with --expose, a ClusterIP service in front of it.
func newRunCommand(e *env) *cobra.Command {
	var r runFlags
	cmd := &cobra.Command{
		Use:   "run NAME --image=IMAGE [--port=PORT] [--env=KEY=VALUE] [--restart=Never] [--command] [-i] [-t] [--rm] [-- COMMAND|ARG...]",
		Short: "Run an image in a pod of its own",
		Long: `Run an image as a single pod, as kubectl run does: the container is named
NAME and the pod labelled run=NAME (or --labels). Words after -- are the
container's arguments, or with --command its command. --expose with --port
also makes a ClusterIP service of the same name.

With -i the container gets a stdin (stdin: true, stdinOnce: true) and with
-t a terminal; skiff run then waits for the pod to run and attaches to it,
as skiff attach does. --rm deletes the pod (and service) when the session
ends. With --restart=Never skiff exits with the container's exit code.`,
		Example: `  skiff run web --image=nginx:1.27 --port=80 --expose
  skiff run once --image=busybox --restart=Never -- echo hello
  skiff run shell --image=busybox --command -- sleep 3600
  skiff run -it --rm shell --image=busybox --restart=Never -- sh   # a throwaway shell
  echo 'echo hi' | skiff run -i --rm job1 --image=busybox --restart=Never -- sh
  skiff run web --image=nginx --dry-run=client -o yaml > pod.yaml`,
		Args: nameThenCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			objs, err := r.objects(args[0], e.ns(), args[1:])
			if err != nil {
				return err
			}
			if r.attaching() && r.dryRun != "client" {
				return r.runAttached(cmd, e, args[0], objs)
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
	f.BoolVarP(&r.stdin, "stdin", "i", false, "keep the container's stdin open and attach this terminal's input to it")
	f.BoolVarP(&r.tty, "tty", "t", false, "give the container a terminal (needs -i)")
	f.BoolVar(&r.attach, "attach", false, "wait for the pod to run and attach to it (the default with -i)")
	f.BoolVar(&r.rm, "rm", false, "delete the pod (and with --expose the service) when the session ends")
	f.BoolVarP(&r.quiet, "quiet", "q", false, "print no hint about the command prompt and no deletion message")
	f.DurationVar(&r.podRunningTimeout, "pod-running-timeout", time.Minute, "how long to wait for the pod to run before attaching")
	r.createOutput.addFlags(cmd)
	return cmd
}

// objects are the pod (and with --expose its service, made first as
// kubectl does) that r describes.
func (r *runFlags) objects(name, ns string, words []string) ([]skiffv1.Resource, error) {
	switch {
	case r.tty && !r.stdin:
		return nil, errors.New("-t/--tty needs -i/--stdin: a terminal is for an interactive session")
	case r.attach && !r.stdin:
		return nil, fmt.Errorf("--attach needs -i: skiff attaches to a container's stdin or terminal; follow its output with skiff logs -f %s", name)
	case r.rm && !r.attaching():
		return nil, errors.New("--rm needs -i: it deletes the pod when the attached session ends")
	case r.rm && r.dryRun == "client":
		return nil, errors.New("--rm cannot be used with --dry-run: nothing is created to delete")
	case r.podRunningTimeout <= 0:
		return nil, fmt.Errorf("--pod-running-timeout=%s: give a positive duration", r.podRunningTimeout)
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
	// As kubectl run: attached stdin closes when the session ends.
	ctr := &skiffv1.Container{Name: name, Image: r.image, ImagePullPolicy: r.pullPolicy,
		Stdin: r.stdin, StdinOnce: r.stdin, Tty: r.tty}
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
