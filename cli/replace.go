package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/cli/manifest"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newReplaceCommand(e *env) *cobra.Command {
	var src fileFlags
	out := createOutput{serverDryRun: true}
	cmd := &cobra.Command{
		Use:   "replace -f FILE|DIR|URL|-",
		Short: "Replace objects with what manifests describe",
		Long: `Replace each object a manifest names with the manifest, as kubectl replace
does: unlike apply, nothing of the stored object is kept but its status and
what only the server sets (a service's allocated addresses among them). An
object that does not exist is an error. With metadata.resourceVersion in
the manifest, a change made since is a conflict; without, the manifest
replaces whatever is stored.`,
		Example: `  skiff get deploy web -o yaml > web.yaml   # edit it, then:
  skiff replace -f web.yaml
  skiff replace -f web.yaml --dry-run=client -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			objs, err := readManifests(cmd, e, src)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			return eachManifest(cmd, out, objs, func(o manifest.Object) (string, skiffv1.Resource, error) {
				obj, err := replaceOne(cmd.Context(), e, c, o, out.dryRun)
				return "replaced", obj, err
			})
		},
	}
	src.add(cmd)
	out.addFlags(cmd)
	return cmd
}

// replaceOne updates the stored object to o: at o's resource version when
// it has one, else at the stored one's (retried if someone wrote between).
func replaceOne(ctx context.Context, e *env, c *client.Client, o manifest.Object, dryRun string) (skiffv1.Resource, error) {
	m := o.Obj.GetMetadata()
	pinned := m.GetResourceVersion() != ""
	var stored skiffv1.Resource
	err := client.RetryOnConflict(ctx, func() error {
		cctx, cancel := e.call(ctx)
		defer cancel()
		cur, err := getObject(cctx, c, o.Info, m.GetNamespace(), m.GetName())
		if err != nil {
			return err
		}
		next := proto.Clone(o.Obj).(skiffv1.Resource)
		if !pinned {
			next.GetMetadata().ResourceVersion = cur.GetMetadata().GetResourceVersion()
		}
		if dryRun == "client" {
			stored = next
			return nil
		}
		out, err := c.API().Update(cctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(next), DryRun: dryRun == "server"})
		if err != nil {
			if pinned && client.IsConflict(err) {
				return staleError{m.GetResourceVersion()}
			}
			return apiErr(err)
		}
		stored = out.Unwrap()
		return nil
	})
	return stored, err
}

// staleError is a replace pinned to a resource version someone wrote since.
type staleError struct{ resourceVersion string }

func (e staleError) Error() string {
	return fmt.Sprintf("changed since metadata.resourceVersion %s was read; get it again, or leave resourceVersion out to replace whatever is stored", e.resourceVersion)
}
