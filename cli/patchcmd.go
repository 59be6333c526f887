package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/cli/manifest"
	"github.com/skiff-sh/skiff/cli/patch"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newPatchCommand(e *env) *cobra.Command {
	var body, file, typ string
	var out createOutput
	cmd := &cobra.Command{
		Use:   "patch (KIND NAME | KIND/NAME) -p PATCH [--type strategic|merge|json]",
		Short: "Change fields of an object with a patch",
		Long: `Patch an object's manifest (as -o json prints it) and store the result, as
kubectl patch does. --type strategic (the default) merges maps key by key
and the lists Kubernetes keys (containers and volumes by name, env by name,
ports by number, …) element by element; merge is a JSON merge patch (lists
replaced whole); json is a JSON patch, a list of operations. The patch may
be JSON or YAML. Status is the controllers' and agents': a patch changes
metadata and spec.`,
		Example: `  skiff patch deployment web -p '{"spec":{"replicas":3}}'
  skiff patch deploy/web -p '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}'
  skiff patch svc web --type=merge -p '{"spec":{"type":"NodePort"}}'
  skiff patch pod web --type=json -p '[{"op":"replace","path":"/spec/containers/0/image","value":"nginx:1.27"}]'
  skiff patch node n1 -p '{"spec":{"unschedulable":true}}' --dry-run=client -o yaml`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			info, name, err := kindAndName(args)
			if err != nil {
				return err
			}
			if name == "" {
				return fmt.Errorf("which %s? give KIND NAME or KIND/NAME", info.Name)
			}
			p, err := patchBody(body, file)
			if err != nil {
				return err
			}
			return runPatch(cmd, e, target{info: info, ns: e.ns(), name: name}, p, patch.Type(typ), out)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&body, "patch", "p", "", "the patch, JSON or YAML")
	f.StringVar(&file, "patch-file", "", "read the patch from this file")
	f.StringVar(&typ, "type", string(patch.Strategic), "strategic, merge or json")
	out.addFlags(cmd)
	return cmd
}

func patchBody(body, file string) ([]byte, error) {
	switch {
	case body != "" && file != "":
		return nil, errors.New("give -p or --patch-file, not both")
	case file != "":
		return os.ReadFile(file)
	case body == "":
		return nil, errors.New("give the patch: -p PATCH or --patch-file FILE")
	}
	return []byte(body), nil
}

// runPatch applies p to the stored object and updates it, retrying when
// someone else wrote in between. It says "patched", or "patched (no
// change)" when the server kept the same resource version.
func runPatch(cmd *cobra.Command, e *env, t target, p []byte, typ patch.Type, out createOutput) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	var result skiffv1.Resource
	verb := "patched"
	err = client.RetryOnConflict(cmd.Context(), func() error {
		ctx, cancel := e.call(cmd.Context())
		defer cancel()
		cur, err := getObject(ctx, c, t.info, t.ns, t.name)
		if err != nil {
			return err
		}
		next, err := patched(cur, p, typ)
		if err != nil {
			return err
		}
		if out.dryRun == "client" {
			result = next
			return nil
		}
		stored, err := c.API().Update(ctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(next)})
		if err != nil {
			return apiErr(err)
		}
		result = stored.Unwrap()
		if result.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion() {
			verb = "patched (no change)"
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := out.say(cmd.OutOrStdout(), verb, result); err != nil {
		return err
	}
	return out.printWhole(cmd.OutOrStdout(), []skiffv1.Resource{result})
}

// patched is cur's manifest with p applied, read back as an object of the
// same kind and name, at cur's resource version.
func patched(cur skiffv1.Resource, p []byte, typ patch.Type) (skiffv1.Resource, error) {
	doc, err := manifest.Encode(cur)
	if err != nil {
		return nil, err
	}
	doc, err = patch.Apply(doc, p, typ)
	if err != nil {
		return nil, err
	}
	objs, err := manifest.Decode("the patched object", doc)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("the patch made %d objects of one", len(objs))
	}
	o := objs[0]
	if err := manifest.Check(o); err != nil {
		return nil, err
	}
	m, cm := o.Obj.GetMetadata(), cur.GetMetadata()
	switch {
	case o.Info.Kind != skiffv1.KindOf(cur):
		return nil, fmt.Errorf("the patch changed the kind to %s; a patch changes fields of one object", o.Info.Name)
	case m.GetName() != cm.GetName() || m.GetNamespace() != cm.GetNamespace():
		return nil, errors.New("metadata.name and metadata.namespace cannot change")
	}
	next := proto.Clone(o.Obj).(skiffv1.Resource)
	next.GetMetadata().ResourceVersion = cm.GetResourceVersion()
	return next, nil
}
