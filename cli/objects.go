package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The kind-generic commands talk to the raw Objects service with envelopes;
// these helpers keep that plumbing in one place.

// parseKind resolves a KIND argument ("po", "pods", "Pod").
func parseKind(s string) (skiffv1.KindInfo, error) {
	info, err := skiffv1.ParseKind(s)
	if err != nil {
		var names []string
		for _, k := range skiffv1.Kinds() {
			name := k.Plural
			if len(k.ShortNames) > 0 {
				name += fmt.Sprintf(" (%s)", strings.Join(k.ShortNames, ","))
			}
			names = append(names, name)
		}
		return info, fmt.Errorf("unknown kind %q; use one of: %s", s, strings.Join(names, ", "))
	}
	return info, nil
}

// lower is the kind as it appears in `pod/web` and `pod "web"`.
func lower(info skiffv1.KindInfo) string { return strings.ToLower(info.Name) }

// slashName is `pod/web`.
func slashName(info skiffv1.KindInfo, name string) string { return lower(info) + "/" + name }

// quotedName is `pod "web"`.
func quotedName(info skiffv1.KindInfo, name string) string {
	return fmt.Sprintf("%s %q", lower(info), name)
}

// nsFor is the namespace a request about a kind goes to ("" outside
// namespaces).
func nsFor(info skiffv1.KindInfo, ns string) string {
	if !info.Namespaced {
		return ""
	}
	return ns
}

func getObject(ctx context.Context, c *client.Client, info skiffv1.KindInfo, ns, name string) (skiffv1.Resource, error) {
	o, err := c.API().Get(ctx, &skiffv1.GetRequest{Kind: info.Kind, Namespace: nsFor(info, ns), Name: name})
	if err != nil {
		return nil, apiErr(err)
	}
	return unwrapAs(o, info)
}

// listObjects reads every matching object, chunk at a time (0: in one
// request), all at one revision, which it returns.
func listObjects(ctx context.Context, c *client.Client, info skiffv1.KindInfo, ns, labelSel, fieldSel string, chunk int64) ([]skiffv1.Resource, string, error) {
	items, rv, err := client.ListAll(ctx, c.API(), &skiffv1.ListRequest{
		Kind: info.Kind, Namespace: nsFor(info, ns), LabelSelector: labelSel, FieldSelector: fieldSel,
	}, chunk)
	if err != nil {
		return nil, "", apiErr(err)
	}
	out := make([]skiffv1.Resource, 0, len(items))
	for _, o := range items {
		r, err := unwrapAs(o, info)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	return out, rv, nil
}

// listEvery reads every matching object as listObjects does, but
// --request-timeout bounds the wait for each page rather than the whole
// list (see printPaged): for the lists a selector may make huge (get,
// delete -l, wait -l). A list that a compaction split between two
// revisions is read again in one request: its objects are then all of
// the revision returned, where a watch may start.
func listEvery(cmd *cobra.Command, e *env, c *client.Client, info skiffv1.KindInfo, ns, labelSel, fieldSel string, chunk int64) ([]skiffv1.Resource, string, error) {
	ctx, progress, stop := stallGuard(cmd.Context(), e.requestTimeout, true)
	defer stop()
	req := &skiffv1.ListRequest{Kind: info.Kind, Namespace: nsFor(info, ns), LabelSelector: labelSel, FieldSelector: fieldSel}
	var objs []skiffv1.Resource
	rv, split := "", false
	collect := func(items []*skiffv1.Object, pageRV string) error {
		progress()
		if rv != "" && pageRV != rv {
			split = true
		}
		rv = pageRV
		for _, it := range items {
			r, err := unwrapAs(it, info)
			if err != nil {
				return err
			}
			objs = append(objs, r)
		}
		return nil
	}
	err := client.ListEach(ctx, c.API(), req, chunk, collect)
	if err == nil && split {
		objs, rv = nil, ""
		err = client.ListEach(ctx, c.API(), req, 0, collect)
	}
	if err != nil {
		return nil, "", listFailed(ctx, err, info, e.requestTimeout)
	}
	return objs, rv, nil
}

// listFailed is the error of a list read under a stall guard of d.
func listFailed(ctx context.Context, err error, info skiffv1.KindInfo, d time.Duration) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return fmt.Errorf("no page of the %s list came in %s: the server is slow to answer; try again, or raise --request-timeout", strings.ToLower(info.Name), d)
	}
	return apiErr(err)
}

func unwrapAs(o *skiffv1.Object, info skiffv1.KindInfo) (skiffv1.Resource, error) {
	r := o.Unwrap()
	if r == nil || skiffv1.KindOf(r) != info.Kind {
		return nil, status.Errorf(codes.Internal, "the server answered a %v where a %s was expected", o.ObjectKind(), info.Name)
	}
	return r, nil
}

// kindAndName reads "KIND NAME" or "KIND/NAME"; name is "" when only a
// kind is given.
func kindAndName(args []string) (skiffv1.KindInfo, string, error) {
	kind, name := args[0], ""
	switch {
	case len(args) == 2:
		name = args[1]
	case strings.Contains(kind, "/"):
		kind, name, _ = strings.Cut(kind, "/")
	}
	info, err := parseKind(kind)
	return info, name, err
}
