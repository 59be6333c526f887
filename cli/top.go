package cli

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

func newTopCommand(e *env) *cobra.Command {
	top := &cobra.Command{
		Use:   "top",
		Short: "Show the CPU and memory pods and nodes use now",
		Long: `Show current CPU and memory use, as the node agents last reported it (every
few seconds). The server keeps the readings in memory for a minute only.`,
		Example: `  skiff top pods
  skiff top pods -A
  skiff top nodes`,
	}
	var all bool
	pods := &cobra.Command{
		Use:     "pods",
		Aliases: []string{"pod", "po"},
		Short:   "Show the CPU and memory use of pods",
		Example: `  skiff top pods            # in the default namespace
  skiff top pods -n team
  skiff top pods -A         # every namespace`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ns := e.ns()
			if all {
				ns = ""
			}
			snap, err := usageSnapshot(cmd, e, ns)
			if err != nil {
				return err
			}
			if len(snap.GetPods()) == 0 {
				if all {
					progress(cmd, "No usage readings yet (the agents report every few seconds).")
				} else {
					progress(cmd, "No usage readings yet in namespace %s (the agents report every few seconds).", ns)
				}
				return nil
			}
			rows := snap.GetPods()
			sort.Slice(rows, func(i, j int) bool {
				if rows[i].GetNamespace() != rows[j].GetNamespace() {
					return rows[i].GetNamespace() < rows[j].GetNamespace()
				}
				return rows[i].GetName() < rows[j].GetName()
			})
			tw := newTabWriter(cmd.OutOrStdout())
			if all {
				fmt.Fprint(tw, "NAMESPACE\t")
			}
			fmt.Fprintln(tw, "NAME\tCPU(cores)\tMEMORY(bytes)")
			for _, p := range rows {
				if all {
					fmt.Fprintf(tw, "%s\t", p.GetNamespace())
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", p.GetName(), cpuString(p.GetUsage().GetCpuCores()), memString(p.GetUsage().GetMemoryWorkingSetBytes()))
			}
			return tw.Flush()
		},
	}
	pods.Flags().BoolVarP(&all, "all-namespaces", "A", false, "show the pods of every namespace")

	nodes := &cobra.Command{
		Use:     "nodes",
		Aliases: []string{"node", "no"},
		Short:   "Show the CPU and memory use of nodes, also as a share of what they offer pods",
		Example: `  skiff top nodes`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			snap, err := usageSnapshot(cmd, e, "")
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.call(cmd.Context())
			defer cancel()
			list, _, err := c.Nodes().List(ctx, client.ListOptions{})
			if err != nil {
				return err
			}
			byName := map[string]*skiffv1.NodeUsage{}
			for _, n := range snap.GetNodes() {
				byName[n.GetName()] = n
			}
			sort.Slice(list, func(i, j int) bool { return list[i].GetMetadata().GetName() < list[j].GetMetadata().GetName() })
			if len(list) == 0 {
				progress(cmd, "No nodes.")
				return nil
			}
			tw := newTabWriter(cmd.OutOrStdout())
			fmt.Fprintln(tw, "NAME\tCPU(cores)\tCPU%\tMEMORY(bytes)\tMEMORY%")
			for _, n := range list {
				name := n.GetMetadata().GetName()
				u, ok := byName[name]
				if !ok {
					fmt.Fprintf(tw, "%s\t<unknown>\t<unknown>\t<unknown>\t<unknown>\n", name)
					continue
				}
				cores, mem := u.GetUsage().GetCpuCores(), u.GetUsage().GetMemoryWorkingSetBytes()
				alloc := n.GetStatus().GetAllocatable()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name,
					cpuString(cores), percentOf(cores*1000, alloc["cpu"], true),
					memString(mem), percentOf(float64(mem), alloc["memory"], false))
			}
			return tw.Flush()
		},
	}
	top.AddCommand(pods, nodes)
	return top
}

// usageSnapshot asks the server's Usage service, on the same connection.
func usageSnapshot(cmd *cobra.Command, e *env, ns string) (*skiffv1.UsageSnapshot, error) {
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := e.call(cmd.Context())
	defer cancel()
	snap, err := skiffv1.NewUsageClient(c.Conn()).Get(ctx, &skiffv1.UsageQuery{Namespace: ns})
	if status.Code(err) == codes.Unimplemented {
		return nil, errors.New("this server does not serve usage metrics (its Usage service is not registered)")
	}
	return snap, err
}

// cpuString prints cores as kubectl does: millicores, "12m".
func cpuString(cores float64) string {
	return fmt.Sprintf("%dm", int64(math.Round(cores*1000)))
}

// memString prints bytes as kubectl does: whole mebibytes, "34Mi".
func memString(b uint64) string {
	return fmt.Sprintf("%dMi", b/(1<<20))
}

// percentOf is used/allocatable in whole percent; milli says whether used
// is in thousandths (cpu) or units (memory). Unknown allocatable: "<unknown>".
func percentOf(used float64, allocatable string, milli bool) string {
	q, err := quantity.Parse(allocatable)
	if err != nil || q.IsZero() {
		return "<unknown>"
	}
	total := float64(q.Value())
	if milli {
		total = float64(q.MilliValue())
	}
	return fmt.Sprintf("%d%%", int64(math.Round(used*100/total)))
}
