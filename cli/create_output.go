package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// createOutput is the flags the commands that make objects from the
// command line share with kubectl's: --dry-run=client prints the objects
// instead of creating them, -o says how to print. The objects are
// kubectl's, so they print as Kubernetes manifests.
type createOutput struct {
	dryRun string
	output string
	// serverDryRun says the command takes --dry-run=server: the server
	// checks and defaults each object and answers what it would store.
	serverDryRun bool
}

func (o *createOutput) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	usage := `"client" changes nothing and prints what would be done (with -o yaml, the objects: a manifest to keep)`
	if o.serverDryRun {
		usage += `; "server" also has the server check and default each object, storing nothing`
	}
	f.StringVar(&o.dryRun, "dry-run", "none", usage)
	f.Lookup("dry-run").NoOptDefVal = "client"
	f.StringVarP(&o.output, "output", "o", "", "print the object as yaml or json, or name")
}

// check refuses flag values it does not know, before anything is made.
func (o *createOutput) check() error {
	switch {
	case o.dryRun == "none" || o.dryRun == "" || o.dryRun == "client":
	case o.dryRun == "server" && o.serverDryRun:
	case o.serverDryRun:
		return fmt.Errorf(`--dry-run=%s: use "client" (print the object), "server" (the server checks it, storing nothing) or "none"`, o.dryRun)
	default:
		return fmt.Errorf(`--dry-run=%s: use "client" (print the object) or "none"`, o.dryRun)
	}
	switch o.output {
	case "", "yaml", "json", "name":
	default:
		return fmt.Errorf("--output=%s: use yaml, json or name", o.output)
	}
	return nil
}

// finish creates objs in order, or with --dry-run prints them, and says
// what it did with each as it goes: "pod/web created" (verb "created").
func (o *createOutput) finish(cmd *cobra.Command, e *env, verb string, objs ...skiffv1.Resource) error {
	if err := o.check(); err != nil {
		return err
	}
	for _, obj := range objs {
		asKubernetes(obj)
	}
	create := func(ctx context.Context, c *client.Client) error {
		for i, obj := range objs {
			if c != nil {
				created, err := c.API().Create(ctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(obj)})
				if err != nil {
					return apiErr(err)
				}
				objs[i] = created.Unwrap() // -o prints what the server stored
			}
			if err := o.say(cmd.OutOrStdout(), verb, objs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if o.dryRun == "client" {
		err = create(cmd.Context(), nil)
	} else {
		err = e.withClient(cmd, create)
	}
	if err != nil {
		return err
	}
	return o.printWhole(cmd.OutOrStdout(), objs)
}

// printWhole prints objs whole with -o yaml or json (one object bare,
// several as a List), and nothing otherwise.
func (o *createOutput) printWhole(w io.Writer, objs []skiffv1.Resource) error {
	if (o.output != "yaml" && o.output != "json") || len(objs) == 0 {
		return nil
	}
	return printObjects(w, o.output, objs, len(objs) == 1)
}

// say is the line about one object, unless -o prints them whole.
func (o *createOutput) say(w io.Writer, verb string, obj skiffv1.Resource) error {
	if o.output == "yaml" || o.output == "json" {
		return nil
	}
	name := obj.GetMetadata().GetName()
	if name == "" { // a dry run of a generated name: its prefix
		name = obj.GetMetadata().GetGenerateName()
	}
	line := slashName(infoOf(obj), name)
	if o.output != "name" {
		line += " " + verb
		switch o.dryRun {
		case "client":
			line += " (dry run)"
		case "server":
			line += " (server dry run)"
		}
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// asKubernetes marks obj as made the Kubernetes way, so that it prints
// (with -o here, and from skiff get later) as the manifest kubectl's
// command would have made: apps/v1 Deployment, v1 Service, …
func asKubernetes(obj skiffv1.Resource) {
	meta := obj.GetMetadata()
	if meta == nil || meta.GetAppliedAs() != nil {
		return
	}
	if t, ok := skiffv1.KubernetesTypeOf(skiffv1.KindOf(obj)); ok {
		meta.AppliedAs = &skiffv1.TypeMeta{ApiVersion: t.APIVersion, Kind: t.Kind}
	}
}
