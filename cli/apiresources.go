package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func newAPIResourcesCommand() *cobra.Command {
	var namespaced string
	var output string
	cmd := &cobra.Command{
		Use:   "api-resources",
		Short: "List the kinds skiff serves, with their short names and Kubernetes types",
		Long: `List every kind: its name for get and friends, short names, whether it
lives in a namespace, and the Kubernetes apiVersion and kind its manifests
may be written as (apply reads them as the skiff kind).`,
		Example: `  skiff api-resources
  skiff api-resources --namespaced=false
  skiff api-resources -o name`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var onlyNamespaced *bool
			switch namespaced {
			case "":
			case "true", "false":
				v := namespaced == "true"
				onlyNamespaced = &v
			default:
				return fmt.Errorf("--namespaced=%s: give true or false", namespaced)
			}
			if output != "" && output != "wide" && output != "name" {
				return fmt.Errorf("--output=%s: use name or wide", output)
			}
			kinds := skiffv1.Kinds()
			sort.Slice(kinds, func(i, j int) bool { return kinds[i].Plural < kinds[j].Plural })
			w := cmd.OutOrStdout()
			if output == "name" {
				for _, k := range kinds {
					if onlyNamespaced == nil || *onlyNamespaced == k.Namespaced {
						fmt.Fprintln(w, k.Plural)
					}
				}
				return nil
			}
			tw := newTabWriter(w)
			fmt.Fprintln(tw, "NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND\tKUBERNETES TYPES")
			for _, k := range kinds {
				if onlyNamespaced != nil && *onlyNamespaced != k.Namespaced {
					continue
				}
				var types []string
				for _, t := range skiffv1.KubernetesTypes() {
					if t.HeldBy == k.Kind {
						types = append(types, t.APIVersion+" "+t.Kind)
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", k.Plural, strings.Join(k.ShortNames, ","), "skiff/v1", k.Namespaced, k.Name, strings.Join(types, ", "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&namespaced, "namespaced", "", "true: only the kinds in namespaces; false: only the others")
	cmd.Flags().StringVarP(&output, "output", "o", "", "name: the names alone")
	return cmd
}
