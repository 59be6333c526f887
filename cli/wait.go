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
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// conditionsOf reads status.conditions of any kind that has them.
func conditionsOf(obj skiffv1.Resource) []*skiffv1.Condition {
	m := obj.ProtoReflect()
	sf := m.Descriptor().Fields().ByName("status")
	if sf == nil || sf.Message() == nil || !m.Has(sf) {
		return nil
	}
	st := m.Get(sf).Message()
	cf := st.Descriptor().Fields().ByName("conditions")
	if cf == nil || !cf.IsList() || cf.Message() == nil {
		return nil
	}
	list := st.Get(cf).List()
	out := make([]*skiffv1.Condition, 0, list.Len())
	for i := 0; i < list.Len(); i++ {
		if c, ok := list.Get(i).Message().Interface().(*skiffv1.Condition); ok {
			out = append(out, c)
		}
	}
	return out
}

// hasConditions: the kind's status has a conditions list.
func hasConditions(info skiffv1.KindInfo) bool {
	sf := info.New().ProtoReflect().Descriptor().Fields().ByName("status")
	if sf == nil || sf.Kind() != protoreflect.MessageKind {
		return false
	}
	return sf.Message().Fields().ByName("conditions") != nil
}

func newWaitCommand(e *env) *cobra.Command {
	var forArg, selector string
	var all, allNamespaces bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait (KIND/NAME... | KIND NAME... | KIND -l SELECTOR | KIND --all) --for=condition=TYPE[=STATUS]|jsonpath='{PATH}'[=VALUE]|create|delete",
		Short: "Wait until objects have a condition or a value, exist, or are deleted",
		Long: `Wait until each object has a condition of TYPE with STATUS (True unless
given; both compared without regard to case), until a JSONPath in it has
VALUE (or, without =VALUE, exists), until it exists, or until it is gone.
Conditions work for every kind whose status has them: jobs, pods, nodes,
deployments, replica sets, autoscalers. With -l or --all, the objects are
those that match when the command starts. Prints "KIND/NAME condition met"
(or "created", "deleted") for each; exits non-zero if --timeout passes
first. --timeout=0 checks once.`,
		Example: `  skiff wait --for=condition=complete job/pi
  skiff wait --for=condition=failed job/pi --timeout=5m
  skiff wait --for=condition=ready pod/web pod/db
  skiff wait --for=condition=ready pod -l app=web
  skiff wait --for=jsonpath='{.status.phase}'=Running pod/web
  skiff wait --for=jsonpath='{.status.loadBalancer.ingress}' svc/web
  skiff wait --for=create pod/web --timeout=60s
  skiff wait --for=delete pod/web --timeout=60s`,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := parseWaitFor(forArg)
			if err != nil {
				return err
			}
			if timeout < 0 {
				return fmt.Errorf("--timeout %v: must not be negative", timeout)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			var targets []target
			if selector != "" || all {
				targets, err = waitSelected(cmd, e, c, args, selector, allNamespaces)
			} else {
				targets, err = waitTargets(e.ns(), args)
			}
			if err != nil {
				return err
			}
			for _, t := range targets {
				if w.typ != "" && !hasConditions(t.info) {
					return fmt.Errorf("a %s has no conditions to wait for; wait for one of a kind that has them, or use --for=jsonpath=, create or delete", t.info.Name)
				}
			}
			// --timeout=0 checks once, with an ordinary request's time.
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			if timeout == 0 {
				ctx, cancel = e.call(cmd.Context())
			}
			defer cancel()
			for _, t := range targets {
				if err := waitOne(ctx, c, t, w, timeout); err != nil {
					return err
				}
				verb := "condition met"
				switch {
				case w.deleted:
					verb = "deleted"
				case w.created:
					verb = "created"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", slashName(t.info, t.name), verb)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&forArg, "for", "", "condition=TYPE[=STATUS], jsonpath='{PATH}'[=VALUE], create or delete")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for all of them")
	f.StringVarP(&selector, "selector", "l", "", "wait for the objects of KIND whose labels match, e.g. app=web")
	f.BoolVar(&all, "all", false, "wait for every object of KIND in the namespace")
	f.BoolVarP(&allNamespaces, "all-namespaces", "A", false, "with -l or --all: in every namespace")
	_ = cmd.MarkFlagRequired("for")
	return cmd
}

// waitSelected is the objects of KIND that -l or --all picks now.
func waitSelected(cmd *cobra.Command, e *env, c *client.Client, args []string, selector string, allNamespaces bool) ([]target, error) {
	if len(args) != 1 || strings.Contains(args[0], "/") {
		return nil, errors.New("with -l or --all, give one KIND and no names")
	}
	info, err := parseKind(args[0])
	if err != nil {
		return nil, err
	}
	ns := e.ns()
	if allNamespaces {
		ns = ""
	}
	objs, _, err := listEvery(cmd, e, c, info, ns, selector, "", client.DefaultChunkSize)
	if err != nil {
		return nil, err
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no %s match; nothing to wait for", info.Plural)
	}
	var out []target
	for _, obj := range objs {
		out = append(out, target{info: info, ns: obj.GetMetadata().GetNamespace(), name: obj.GetMetadata().GetName()})
	}
	return out, nil
}

// waitTargets reads KIND/NAME... or KIND NAME....
func waitTargets(ns string, args []string) ([]target, error) {
	if len(args) == 0 {
		return nil, errors.New("say what to wait for: KIND/NAME... or KIND NAME...; see 'skiff wait --help'")
	}
	if !strings.Contains(args[0], "/") {
		info, err := parseKind(args[0])
		if err != nil {
			return nil, err
		}
		if len(args) == 1 {
			return nil, fmt.Errorf("which %s? give their names", info.Plural)
		}
		var out []target
		for _, n := range args[1:] {
			out = append(out, target{info: info, ns: ns, name: n})
		}
		return out, nil
	}
	var out []target
	for _, a := range args {
		kind, name, ok := strings.Cut(a, "/")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: give KIND/NAME for each, or KIND NAME...", a)
		}
		info, err := parseKind(kind)
		if err != nil {
			return nil, err
		}
		out = append(out, target{info: info, ns: ns, name: name})
	}
	return out, nil
}

// waitOne reads the object, then watches it from that revision until w is
// met, ctx ends (the timeout) or the watch fails.
func waitOne(ctx context.Context, c *client.Client, t target, w waitFor, timeout time.Duration) error {
	timedOut := func() error {
		return fmt.Errorf("timed out after %s waiting for %s on %s", timeout, describeWait(w), slashName(t.info, t.name))
	}
	fail := func(err error) error {
		if expired(ctx, err) {
			return timedOut()
		}
		return apiErr(err)
	}
	o, err := c.API().Get(ctx, &skiffv1.GetRequest{Kind: t.info.Kind, Namespace: nsFor(t.info, t.ns), Name: t.name})
	var rv string
	switch {
	case client.IsNotFound(err) && w.deleted:
		return nil
	case client.IsNotFound(err) && w.created:
		// Watch for it from a listed revision: it may come at any moment.
		_, rv, err = listObjects(ctx, c, t.info, t.ns, "", "metadata.name="+t.name, 1)
		if err != nil {
			return fail(err)
		}
	case err != nil:
		return fail(err)
	default:
		obj, err := unwrapAs(o, t.info)
		if err != nil {
			return err
		}
		if ok, err := w.met(obj); ok || err != nil {
			return err
		}
		rv = obj.GetMetadata().GetResourceVersion()
	}
	if timeout == 0 {
		return timedOut()
	}
	stream, err := c.API().Watch(ctx, &skiffv1.WatchRequest{
		Kind: t.info.Kind, Namespace: nsFor(t.info, t.ns),
		FieldSelector: "metadata.name=" + t.name, ResourceVersion: rv,
	})
	if err != nil {
		return fail(err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			return fail(err)
		}
		switch ev.Type {
		case skiffv1.WatchEvent_DELETED:
			if w.deleted {
				return nil
			}
			return fmt.Errorf("%s was deleted while waiting for %s", slashName(t.info, t.name), describeWait(w))
		case skiffv1.WatchEvent_BOOKMARK:
			continue
		}
		cur := ev.GetObject().Unwrap()
		if cur == nil {
			continue
		}
		if ok, err := w.met(cur); ok || err != nil {
			return err
		}
	}
}

// expired: the call failed because the wait's deadline passed (gRPC may
// report it before the context does).
func expired(ctx context.Context, err error) bool {
	return ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded
}
