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

// waitFor is what `skiff wait --for` asks: a condition of a type with a
// status, or the object's deletion.
type waitFor struct {
	deleted bool
	typ     string // compared without regard to case, as kubectl does
	status  string
}

func parseWaitFor(s string) (waitFor, error) {
	if s == "delete" {
		return waitFor{deleted: true}, nil
	}
	rest, ok := strings.CutPrefix(s, "condition=")
	if !ok || rest == "" {
		return waitFor{}, fmt.Errorf("--for %q: give condition=TYPE, condition=TYPE=STATUS or delete", s)
	}
	typ, status, ok := strings.Cut(rest, "=")
	if !ok {
		status = "True"
	}
	if typ == "" || status == "" {
		return waitFor{}, fmt.Errorf("--for %q: give condition=TYPE, condition=TYPE=STATUS or delete", s)
	}
	return waitFor{typ: typ, status: status}, nil
}

// met reports whether obj (nil: gone) satisfies w.
func (w waitFor) met(obj skiffv1.Resource) bool {
	if w.deleted || obj == nil {
		return w.deleted && obj == nil
	}
	for _, c := range conditionsOf(obj) {
		if strings.EqualFold(c.GetType(), w.typ) && strings.EqualFold(c.GetStatus(), w.status) {
			return true
		}
	}
	return false
}

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
	var forArg string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait (KIND/NAME... | KIND NAME...) --for=condition=TYPE[=STATUS] | --for=delete",
		Short: "Wait until objects have a condition, or are deleted",
		Long: `Wait until each object has a condition of TYPE with STATUS (True unless
given; both compared without regard to case), or is gone. Works for every
kind whose status has conditions: jobs, pods, nodes, replica sets,
autoscalers. Prints "KIND/NAME condition met" (or "deleted") for each; exits
non-zero if --timeout passes first. --timeout=0 checks once.`,
		Example: `  skiff wait --for=condition=complete job/pi
  skiff wait --for=condition=failed job/pi --timeout=5m
  skiff wait --for=condition=ready pod/web pod/db
  skiff wait --for=condition=ready=false node/n2
  skiff wait --for=delete pod/web --timeout=60s`,
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := parseWaitFor(forArg)
			if err != nil {
				return err
			}
			if timeout < 0 {
				return fmt.Errorf("--timeout %v: must not be negative", timeout)
			}
			targets, err := waitTargets(e.ns(), args)
			if err != nil {
				return err
			}
			for _, t := range targets {
				if !w.deleted && !hasConditions(t.info) {
					return fmt.Errorf("a %s has no conditions to wait for; wait for one of a kind that has them, or --for=delete", t.info.Name)
				}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), max(timeout, time.Millisecond))
			defer cancel()
			for _, t := range targets {
				if err := waitOne(ctx, c, t, w, timeout); err != nil {
					return err
				}
				verb := "condition met"
				if w.deleted {
					verb = "deleted"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", slashName(t.info, t.name), verb)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&forArg, "for", "", "condition=TYPE[=STATUS], or delete")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for all of them")
	_ = cmd.MarkFlagRequired("for")
	return cmd
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
	o, err := c.API().Get(ctx, &skiffv1.GetRequest{Kind: t.info.Kind, Namespace: nsFor(t.info, t.ns), Name: t.name})
	var obj skiffv1.Resource
	switch {
	case client.IsNotFound(err) && w.deleted:
		return nil
	case err != nil && expired(ctx, err):
		return timedOut()
	case err != nil:
		return apiErr(err)
	}
	if obj, err = unwrapAs(o, t.info); err != nil {
		return err
	}
	if w.met(obj) {
		return nil
	}
	if timeout == 0 {
		return timedOut()
	}
	stream, err := c.API().Watch(ctx, &skiffv1.WatchRequest{
		Kind: t.info.Kind, Namespace: nsFor(t.info, t.ns),
		FieldSelector: "metadata.name=" + t.name, ResourceVersion: obj.GetMetadata().GetResourceVersion(),
	})
	if err != nil {
		if expired(ctx, err) {
			return timedOut()
		}
		return apiErr(err)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			if expired(ctx, err) {
				return timedOut()
			}
			return apiErr(err)
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
		if cur := ev.GetObject().Unwrap(); cur != nil && w.met(cur) {
			return nil
		}
	}
}

// expired: the call failed because the wait's deadline passed (gRPC may
// report it before the context does).
func expired(ctx context.Context, err error) bool {
	return ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded
}

func describeWait(w waitFor) string {
	if w.deleted {
		return "deletion"
	}
	return fmt.Sprintf("condition %s=%s", w.typ, w.status)
}
