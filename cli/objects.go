package cli

import (
	"context"
	"fmt"
	"strings"

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
