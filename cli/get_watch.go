package cli

// `skiff get -w`: after the list, each change as it comes.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// watchObjects prints each change after revision rv until interrupted.
func watchObjects(cmd *cobra.Command, e *env, c *client.Client, info skiffv1.KindInfo, ns, labelSel, fieldSel, rv, output string, tp *templateOutput, topts tableOpts, listed []skiffv1.Resource) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stream, err := c.API().Watch(ctx, &skiffv1.WatchRequest{
		Kind: info.Kind, Namespace: nsFor(info, ns), LabelSelector: labelSel, FieldSelector: fieldSel, ResourceVersion: rv,
	})
	if err != nil {
		return apiErr(err)
	}
	out := cmd.OutOrStdout()
	events := make(chan watchItem)
	go pump(ctx, stream, events, false)
	if info.Kind == skiffv1.Kind_KIND_SERVICE && (output == "" || output == "wide") {
		// The ENDPOINTS column follows the Endpoints objects: a change of
		// those alone prints the service's row again.
		epInfo, _ := skiffv1.Info(skiffv1.Kind_KIND_ENDPOINTS)
		eps, err := c.API().Watch(ctx, &skiffv1.WatchRequest{Kind: epInfo.Kind, Namespace: nsFor(info, ns), ResourceVersion: topts.endpointsRV})
		if err != nil {
			return apiErr(err)
		}
		go pump(ctx, eps, events, true)
	}
	// The services on screen, whose rows an Endpoints change reprints.
	shown := map[string]skiffv1.Resource{}
	for _, o := range listed {
		shown[client.KeyOf(o)] = o
	}
	for {
		var it watchItem
		select {
		case <-ctx.Done():
			return nil
		case it = <-events:
		}
		ev, err := it.ev, it.err
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			if client.IsCompacted(err) {
				return fmt.Errorf("the watch fell too far behind (%s); run the command again", apiErr(err))
			}
			return apiErr(err)
		}
		if ev.Type == skiffv1.WatchEvent_BOOKMARK {
			continue
		}
		if it.endpoints {
			ep, ok := ev.Object.Unwrap().(*skiffv1.Endpoints)
			if !ok {
				continue
			}
			key := client.KeyOf(ep)
			if topts.endpoints == nil {
				topts.endpoints = map[string]*skiffv1.Endpoints{}
			}
			before := formatEndpoints(topts.endpoints[key], 3)
			if ev.Type == skiffv1.WatchEvent_DELETED {
				delete(topts.endpoints, key)
			} else {
				topts.endpoints[key] = ep
			}
			if before == formatEndpoints(topts.endpoints[key], 3) {
				continue
			}
			svc, ok := shown[key]
			if !ok {
				continue
			}
			if err := printWatchEvent(out, skiffv1.WatchEvent_MODIFIED, info, svc, output, tp, topts, e); err != nil {
				return err
			}
			topts.noHeaders = true
			continue
		}
		obj, err := unwrapAs(ev.Object, info)
		if err != nil {
			return err
		}
		if ev.Type == skiffv1.WatchEvent_DELETED {
			delete(shown, client.KeyOf(obj))
		} else {
			shown[client.KeyOf(obj)] = obj
		}
		if err := printWatchEvent(out, ev.Type, info, obj, output, tp, topts, e); err != nil {
			return err
		}
		topts.noHeaders = true
	}
}

// watchItem is one event (or the error that ended a stream) of the
// watched kind, or of the Endpoints a service table follows.
type watchItem struct {
	ev        *skiffv1.WatchEvent
	err       error
	endpoints bool
}

// pump forwards a watch stream's events until it ends or ctx does.
func pump(ctx context.Context, stream grpc.ServerStreamingClient[skiffv1.WatchEvent], out chan<- watchItem, endpoints bool) {
	for {
		ev, err := stream.Recv()
		select {
		case out <- watchItem{ev: ev, err: err, endpoints: endpoints}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

func printWatchEvent(w io.Writer, typ skiffv1.WatchEvent_Type, info skiffv1.KindInfo, obj skiffv1.Resource, output string, tp *templateOutput, topts tableOpts, e *env) error {
	if tp != nil {
		// As kubectl: one rendering per event, of the object alone.
		return tp.print(w, []skiffv1.Resource{obj}, true, topts.noHeaders)
	}
	switch output {
	case "yaml":
		fmt.Fprintln(w, "---")
		return printObjects(w, "yaml", []skiffv1.Resource{obj}, true)
	case "json":
		return printObjects(w, "json", []skiffv1.Resource{obj}, true)
	case "name":
		_, err := fmt.Fprintln(w, slashName(info, obj.GetMetadata().GetName()))
		return err
	}
	var b strings.Builder
	if err := printTable(&b, info, []skiffv1.Resource{obj}, topts, e.now()); err != nil {
		return err
	}
	s := b.String()
	if typ == skiffv1.WatchEvent_DELETED {
		// kubectl shows the last state; say plainly that it went.
		s = strings.TrimRight(s, "\n") + "   (deleted)\n"
	}
	_, err := io.WriteString(w, s)
	return err
}
