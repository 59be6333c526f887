package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/cli/manifest"
	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/rollout"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newApplyCommand(e *env) *cobra.Command {
	var src fileFlags
	out := createOutput{serverDryRun: true}
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|URL|-",
		Short: "Create or update the objects a manifest describes",
		Long: `Create the objects of the manifests that do not exist yet and update the
others to match. Each prints one line: pod/web created, configured or
unchanged.

A manifest is YAML (or JSON) with apiVersion: skiff/v1, kind, metadata and
spec, or a Kubernetes manifest (v1, apps/v1, autoscaling/v1 or v2) of a kind
skiff has; several may share a file, separated by ---. A directory means every
.yaml, .yml and .json file in it (with -R, in its subdirectories too); an
http(s) URL is fetched. Every document is read and checked before anything
is sent, so a file with one bad document changes nothing.`,
		Example: `  skiff apply -f web.yaml
  skiff apply -f manifests/            # every .yaml/.yml/.json file, by name
  skiff apply -R -f manifests/         # and those of its subdirectories
  skiff apply -f https://k8s.io/examples/application/deployment.yaml
  cat web.yaml | skiff apply -f -
  skiff apply -f web.yaml -n team      # objects without a namespace go to team
  skiff apply -f web.yaml --dry-run=client -o yaml   # what would be sent
  skiff apply -f web.yaml --dry-run=server -o yaml   # what the server would store
  skiff diff -f web.yaml               # what applying would change
  skiff get pod web -o yaml > web.yaml && skiff apply -f web.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApply(cmd, e, src, out)
		},
	}
	src.add(cmd)
	out.addFlags(cmd)
	return cmd
}

func runApply(cmd *cobra.Command, e *env, src fileFlags, out createOutput) error {
	if err := out.check(); err != nil {
		return err
	}
	objs, err := readManifests(cmd, e, src)
	if err != nil {
		return err
	}
	var unnamed []error
	for _, o := range objs {
		if o.Name() == "" {
			unnamed = append(unnamed, fmt.Errorf("%s: metadata.generateName: apply needs a metadata.name to find the object again; skiff create -f makes one with a generated name", o))
		}
	}
	if len(unnamed) > 0 {
		return errors.Join(append(unnamed, errNothingApplied)...)
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	return eachManifest(cmd, out, objs, func(o manifest.Object) (string, skiffv1.Resource, error) {
		return applyOne(cmd.Context(), e, c, o, out.dryRun)
	})
}

// errNothingApplied ends the message of a manifest that failed its checks.
var errNothingApplied = errors.New("nothing was applied")

// readManifests decodes and checks every document, and puts namespaced
// objects without a namespace into the command's namespace, before anything
// is sent: one bad document stops the whole run.
func readManifests(cmd *cobra.Command, e *env, src fileFlags) ([]manifest.Object, error) {
	objs, err := src.read(cmd)
	if err != nil {
		return nil, errors.Join(err, errNothingApplied)
	}
	var bad []error
	for _, o := range objs {
		if err := manifest.Check(o); err != nil {
			bad = append(bad, err)
			continue
		}
		m := o.Obj.GetMetadata()
		if !o.Info.Namespaced {
			continue
		}
		switch {
		case m.Namespace == "":
			m.Namespace = e.ns()
		case e.namespace != "" && m.Namespace != e.namespace:
			bad = append(bad, fmt.Errorf("%s: its namespace %q differs from -n %s; remove one of them", o, m.Namespace, e.namespace))
		}
	}
	if len(bad) > 0 {
		return nil, errors.Join(append(bad, errNothingApplied)...)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no objects in %v", src.files)
	}
	return objs, nil
}

// applyOne creates the object, or updates it over the stored one (retrying
// when someone else wrote in between), and returns what the server stored.
// It says "created", "configured" or "unchanged", the last when the server
// kept the same resource version. A dry run reads but writes nothing and
// returns what it would have sent.
func applyOne(ctx context.Context, e *env, c *client.Client, o manifest.Object, dryRun string) (string, skiffv1.Resource, error) {
	m := o.Obj.GetMetadata()
	result := ""
	var stored skiffv1.Resource
	err := client.RetryOnConflict(ctx, func() error {
		cctx, cancel := e.call(ctx)
		defer cancel()
		cur, err := getObject(cctx, c, o.Info, m.GetNamespace(), m.GetName())
		if client.IsNotFound(err) {
			fresh := proto.Clone(o.Obj).(skiffv1.Resource)
			fresh.GetMetadata().ResourceVersion = ""
			result = "created"
			if dryRun == "client" {
				stored = fresh
				return nil
			}
			out, err := c.API().Create(cctx, &skiffv1.CreateRequest{Object: skiffv1.Wrap(fresh), DryRun: dryRun == "server"})
			if client.IsAlreadyExists(err) {
				// Created by someone else since the Get: update it instead.
				return apiErr(errConflictRetry)
			}
			if err != nil {
				return apiErr(err)
			}
			stored = out.Unwrap()
			return nil
		}
		if err != nil {
			return err
		}
		next := mergeForUpdate(o.Obj, cur)
		result = "configured"
		if dryRun == "client" {
			stored = next
			return nil
		}
		out, err := c.API().Update(cctx, &skiffv1.UpdateRequest{Object: skiffv1.Wrap(next), DryRun: dryRun == "server"})
		if err != nil {
			return apiErr(err)
		}
		stored = out.Unwrap()
		// A dry run keeps the resource version: unchanged is the object as
		// stored, which the server answers when nothing would change.
		if dryRun == "server" && proto.Equal(stored, cur) ||
			dryRun != "server" && stored.GetMetadata().GetResourceVersion() == cur.GetMetadata().GetResourceVersion() {
			result = "unchanged"
		}
		return nil
	})
	return result, stored, err
}

// mergeForUpdate is the manifest's object made ready to replace cur: cur's
// resource version (so a concurrent writer makes this a conflict, retried),
// and what controllers keep on it that a manifest does not usually say.
func mergeForUpdate(want, cur skiffv1.Resource) skiffv1.Resource {
	next := proto.Clone(want).(skiffv1.Resource)
	m, cm := next.GetMetadata(), cur.GetMetadata()
	m.ResourceVersion = cm.GetResourceVersion()
	if len(m.OwnerReferences) == 0 {
		m.OwnerReferences = cm.GetOwnerReferences()
	}
	if len(m.Finalizers) == 0 {
		m.Finalizers = cm.GetFinalizers()
	}
	switch v := next.(type) {
	case *skiffv1.Volume:
		// The node a local volume was pinned to is the scheduler's choice.
		if cl := cur.(*skiffv1.Volume).GetSpec().GetLocal(); v.GetSpec().GetLocal() != nil && v.Spec.Local.NodeName == "" {
			v.Spec.Local.NodeName = cl.GetNodeName()
		}
		// So is the PersistentVolume a claim was bound to: the binder's.
		if n := cur.(*skiffv1.Volume).GetSpec().GetVolumeName(); v.GetSpec() != nil && v.Spec.VolumeName == "" {
			v.Spec.VolumeName = n
		}
	case *skiffv1.PersistentVolume:
		// And the claim a PersistentVolume is bound to, as kubectl apply
		// leaves claimRef to the binder when the manifest has none.
		if v.GetSpec() != nil && v.Spec.ClaimRef == nil {
			v.Spec.ClaimRef = cur.(*skiffv1.PersistentVolume).GetSpec().GetClaimRef()
		}
	case *skiffv1.ReplicaSet:
		// The autoscaler owns replicas of a set it scales when the manifest
		// leaves them out.
		if v.GetSpec() != nil && v.Spec.Replicas == nil {
			v.Spec.Replicas = cur.(*skiffv1.ReplicaSet).GetSpec().Replicas
		}
	case *skiffv1.ReplicationController:
		// As kubectl's merge keeps a count the manifest never set (scaled
		// since), so does apply.
		if v.GetSpec() != nil && v.Spec.Replicas == nil {
			v.Spec.Replicas = cur.(*skiffv1.ReplicationController).GetSpec().Replicas
		}
	case *skiffv1.Deployment:
		// The same for a deployment; and its revision annotation is the
		// controller's.
		cd := cur.(*skiffv1.Deployment)
		if v.GetSpec() != nil && v.Spec.Replicas == nil {
			v.Spec.Replicas = cd.GetSpec().Replicas
		}
		if rev, ok := cd.GetMetadata().GetAnnotations()[rollout.RevisionAnnotation]; ok {
			if m.Annotations == nil {
				m.Annotations = map[string]string{}
			}
			if _, given := m.Annotations[rollout.RevisionAnnotation]; !given {
				m.Annotations[rollout.RevisionAnnotation] = rev
			}
		}
	}
	return next
}
