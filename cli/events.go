package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/client"
)

func newEventsCommand(e *env) *cobra.Command {
	o := &getOpts{chunkSize: client.DefaultChunkSize, allowMissing: true}
	var forObject string
	var types []string
	cmd := &cobra.Command{
		Use:   "events [--for KIND/NAME] [--types Normal,Warning]",
		Short: "List events, oldest first, as kubectl events does",
		Long: `List the events of the namespace (every namespace with -A), oldest first:
what happened to objects, such as scheduling, image pulls, restarts and
failures. --for keeps those about one object, --types those of a type.
The same table as skiff get events.`,
		Example: `  skiff events
  skiff events --for pod/web
  skiff events -A --types=Warning
  skiff events --for deploy/web -w`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var fields []string
			if forObject != "" {
				kind, name, ok := strings.Cut(forObject, "/")
				if !ok || name == "" {
					return fmt.Errorf("--for=%s: give the object as KIND/NAME, e.g. pod/web", forObject)
				}
				info, err := parseKind(kind)
				if err != nil {
					return fmt.Errorf("--for: %w", err)
				}
				fields = append(fields, "involvedObject.kind="+info.Name, "involvedObject.name="+name)
			}
			want := map[string]bool{}
			for _, t := range types {
				switch t {
				case "Normal", "Warning":
					want[t] = true
				default:
					return fmt.Errorf("--types: %q is not an event type; use Normal, Warning or both", t)
				}
			}
			if len(want) == 1 {
				for t := range want {
					fields = append(fields, "type="+t)
				}
			}
			o.fieldSel = strings.Join(fields, ",")
			return runGet(cmd, e, o, []string{"events"})
		},
	}
	f := cmd.Flags()
	f.StringVar(&forObject, "for", "", "only events about this object, as KIND/NAME")
	f.StringSliceVar(&types, "types", nil, "only events of these types: Normal, Warning")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "events of every namespace")
	f.BoolVarP(&o.watch, "watch", "w", false, "after listing, stream new events until interrupted")
	f.BoolVar(&o.noHeaders, "no-headers", false, "leave out the table's header line")
	f.StringVarP(&o.output, "output", "o", "", "yaml, json or name instead of the table")
	return cmd
}
