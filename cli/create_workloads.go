package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// newCreateDeploymentCommand is kubectl's `create deployment`: a
// Deployment labelled app=NAME running the given images.
func newCreateDeploymentCommand(e *env) *cobra.Command {
	var o createOutput
	var images []string
	var replicas, port int32
	cmd := &cobra.Command{
		Use:     "deployment NAME --image=IMAGE [--replicas=N] [--port=PORT] [-- COMMAND [ARG...]]",
		Aliases: []string{"deploy"},
		Short:   "Create a Deployment that runs one or more images",
		Long: `Create a Deployment as kubectl create deployment does: its pods are labelled
app=NAME (the Deployment's selector), with one container per --image, named
after the image ("nginx" for docker.io/library/nginx:1.27). Words after --
are the command of the one container.`,
		Example: `  skiff create deployment web --image=nginx:1.27 --replicas=3 --port=80
  skiff expose deployment web --port=80
  skiff create deployment clock --image=busybox -- sh -c 'while date; do sleep 5; done'
  skiff create deployment web --image=nginx --dry-run=client -o yaml > web.yaml`,
		Args: nameThenCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, command := args[0], args[1:]
			if len(images) == 0 {
				return errors.New("give the image to run: --image=IMAGE")
			}
			if len(command) > 0 && len(images) > 1 {
				return errors.New("a command after -- needs exactly one --image: it would not say which container runs it")
			}
			if replicas < 0 {
				return fmt.Errorf("--replicas=%d: give 0 or more", replicas)
			}
			if err := checkPort("--port", port); err != nil {
				return err
			}
			spec := &skiffv1.PodSpec{}
			seen := map[string]int{}
			for _, img := range images {
				if img == "" {
					return errors.New("--image: the image is empty")
				}
				spec.Containers = append(spec.Containers, &skiffv1.Container{Name: containerName(img, seen), Image: img})
			}
			spec.Containers[0].Command = command
			if port != 0 {
				spec.Containers[0].Ports = []*skiffv1.ContainerPort{{ContainerPort: port}}
			}
			appLabel := map[string]string{"app": name}
			dp := &skiffv1.Deployment{
				Metadata: &skiffv1.ObjectMeta{Name: name, Namespace: e.ns(), Labels: appLabel},
				Spec: &skiffv1.DeploymentSpec{
					Replicas: &replicas,
					Selector: &skiffv1.LabelSelector{MatchLabels: appLabel},
					Template: &skiffv1.PodTemplateSpec{Metadata: &skiffv1.ObjectMeta{Labels: appLabel}, Spec: spec},
				},
			}
			return o.finish(cmd, e, "created", dp)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&images, "image", nil, "the image of a container (repeatable: one container each)")
	f.Int32VarP(&replicas, "replicas", "r", 1, "how many pods to keep")
	f.Int32Var(&port, "port", 0, "the port the (first) container serves on, for skiff expose")
	o.addFlags(cmd)
	return cmd
}

// nameThenCommand accepts NAME, then optionally -- and a command.
func nameThenCommand(cmd *cobra.Command, args []string) error {
	names := args
	if dash := cmd.ArgsLenAtDash(); dash >= 0 {
		names = args[:dash]
	}
	switch len(names) {
	case 0:
		return errors.New("give the name first: NAME --image=IMAGE [-- COMMAND [ARG...]]")
	case 1:
		return nil
	}
	return fmt.Errorf("give one name, then -- before the command (got %q)", names)
}

// containerName is kubectl's name for an image's container: the last
// path element without tag or digest, made a DNS label, and unique in
// the pod (seen counts the names given so far).
func containerName(image string, seen map[string]int) string {
	name := image[strings.LastIndexByte(image, '/')+1:]
	name, _, _ = strings.Cut(name, "@")
	name, _, _ = strings.Cut(name, ":")
	name = strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, name), "-")
	if name == "" {
		name = "container"
	}
	seen[name]++
	if n := seen[name]; n > 1 {
		name += "-" + strconv.Itoa(n)
	}
	return name
}

// checkPort accepts 0 (not given) or a TCP/UDP port number.
func checkPort(flag string, port int32) error {
	if port < 0 || port > 65535 {
		return fmt.Errorf("%s=%d: give a port from 1 to 65535", flag, port)
	}
	return nil
}

// parseLabelSet reads "k=v,k2=v2" (--labels, --selector) into a map.
func parseLabelSet(flag, s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("%s=%s: give KEY=VALUE pairs separated by commas", flag, s)
		}
		if err := labels.ValidateKey(k); err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		if err := labels.ValidateValue(v); err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		out[k] = v
	}
	return out, nil
}
