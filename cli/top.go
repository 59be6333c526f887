package cli

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

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
	top.AddCommand(newTopPodsCommand(e), newTopNodesCommand(e))
	return top
}

// topOpts are the flags top pods and top nodes share with kubectl top.
type topOpts struct {
	all        bool
	selector   string
	sortBy     string
	noHeaders  bool
	containers bool
}

func (o *topOpts) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.selector, "selector", "l", "", "only those whose labels match, e.g. app=web")
	f.StringVar(&o.sortBy, "sort-by", "", "cpu or memory: the biggest first")
	f.BoolVar(&o.noHeaders, "no-headers", false, "leave out the header line")
}

func (o *topOpts) check(args []string) error {
	switch o.sortBy {
	case "", "cpu", "memory":
	default:
		return fmt.Errorf("--sort-by=%s: use cpu or memory", o.sortBy)
	}
	if len(args) > 0 && o.selector != "" {
		return errors.New("give a name or -l SELECTOR, not both")
	}
	return nil
}

// usageRow is one line of a top table.
type usageRow struct {
	cells []string // before the usage columns
	usage *skiffv1.ResourceUsage
}

// sortUsage orders rows by --sort-by, biggest first, keeping the order of
// equal ones.
func sortUsage(rows []usageRow, by string) {
	switch by {
	case "cpu":
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].usage.GetCpuCores() > rows[j].usage.GetCpuCores() })
	case "memory":
		sort.SliceStable(rows, func(i, j int) bool {
			return rows[i].usage.GetMemoryWorkingSetBytes() > rows[j].usage.GetMemoryWorkingSetBytes()
		})
	}
}

func newTopPodsCommand(e *env) *cobra.Command {
	var o topOpts
	cmd := &cobra.Command{
		Use:     "pods [NAME]",
		Aliases: []string{"pod", "po"},
		Short:   "Show the CPU and memory use of pods",
		Example: `  skiff top pods            # in the default namespace
  skiff top pods -n team
  skiff top pods -A         # every namespace
  skiff top pod web-1 --containers
  skiff top pods -l app=web --sort-by=memory`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(args); err != nil {
				return err
			}
			if len(args) > 0 && o.all {
				return errors.New("-A shows every namespace; with a name, use -n NAMESPACE instead")
			}
			ns := e.ns()
			if o.all {
				ns = ""
			}
			snap, err := usageSnapshot(cmd, e, ns)
			if err != nil {
				return err
			}
			pods, err := o.selectPods(cmd, e, ns, args, snap.GetPods())
			if err != nil {
				return err
			}
			if len(pods) == 0 {
				switch {
				case o.selector != "":
					progress(cmd, "No usage readings of pods matching %s.", o.selector)
				case o.all:
					progress(cmd, "No usage readings yet (the agents report every few seconds).")
				default:
					progress(cmd, "No usage readings yet in namespace %s (the agents report every few seconds).", ns)
				}
				return nil
			}
			sort.Slice(pods, func(i, j int) bool {
				if pods[i].GetNamespace() != pods[j].GetNamespace() {
					return pods[i].GetNamespace() < pods[j].GetNamespace()
				}
				return pods[i].GetName() < pods[j].GetName()
			})
			var rows []usageRow
			for _, p := range pods {
				var first []string
				if o.all {
					first = append(first, p.GetNamespace())
				}
				if !o.containers {
					rows = append(rows, usageRow{append(first, p.GetName()), p.GetUsage()})
					continue
				}
				for _, c := range p.GetContainers() {
					rows = append(rows, usageRow{append(append([]string(nil), first...), p.GetName(), c.GetName()), c.GetUsage()})
				}
			}
			sortUsage(rows, o.sortBy)
			header := []string{"NAME"}
			if o.containers {
				header = []string{"POD", "NAME"}
			}
			if o.all {
				header = append([]string{"NAMESPACE"}, header...)
			}
			tw := newTabWriter(cmd.OutOrStdout())
			if !o.noHeaders {
				fmt.Fprintln(tw, strings.Join(append(header, "CPU(cores)", "MEMORY(bytes)"), "\t"))
			}
			for _, r := range rows {
				fmt.Fprintln(tw, strings.Join(append(r.cells, cpuString(r.usage.GetCpuCores()), memString(r.usage.GetMemoryWorkingSetBytes())), "\t"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVarP(&o.all, "all-namespaces", "A", false, "show the pods of every namespace")
	cmd.Flags().BoolVar(&o.containers, "containers", false, "a line per container")
	o.addFlags(cmd)
	return cmd
}

// selectPods keeps the readings of the pod named, or of the pods the
// selector matches.
func (o *topOpts) selectPods(cmd *cobra.Command, e *env, ns string, args []string, pods []*skiffv1.PodUsage) ([]*skiffv1.PodUsage, error) {
	switch {
	case len(args) > 0:
		for _, p := range pods {
			if p.GetName() == args[0] {
				return []*skiffv1.PodUsage{p}, nil
			}
		}
		return nil, fmt.Errorf("pod %q has no usage readings in namespace %s: it is not running, or its node has not reported yet (every few seconds)", args[0], ns)
	case o.selector == "":
		return pods, nil
	}
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := e.call(cmd.Context())
	defer cancel()
	matching, _, err := c.Pods().List(ctx, client.ListOptions{Namespace: ns, LabelSelector: o.selector})
	if err != nil {
		return nil, apiErr(err)
	}
	uids := map[string]bool{}
	for _, p := range matching {
		uids[p.GetMetadata().GetUid()] = true
	}
	var out []*skiffv1.PodUsage
	for _, p := range pods {
		if uids[p.GetUid()] {
			out = append(out, p)
		}
	}
	return out, nil
}

func newTopNodesCommand(e *env) *cobra.Command {
	var o topOpts
	cmd := &cobra.Command{
		Use:     "nodes [NAME]",
		Aliases: []string{"node", "no"},
		Short:   "Show the CPU and memory use of nodes, also as a share of what they offer pods",
		Example: `  skiff top nodes
  skiff top node node1
  skiff top nodes -l zone=a --sort-by=cpu`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(args); err != nil {
				return err
			}
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
			var list []*skiffv1.Node
			if len(args) > 0 {
				n, err := c.Nodes().Get(ctx, "", args[0])
				if err != nil {
					return apiErr(err)
				}
				list = []*skiffv1.Node{n}
			} else if list, _, err = c.Nodes().List(ctx, client.ListOptions{LabelSelector: o.selector}); err != nil {
				return apiErr(err)
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
			var rows []usageRow
			for _, n := range list {
				rows = append(rows, usageRow{[]string{n.GetMetadata().GetName()}, byName[n.GetMetadata().GetName()].GetUsage()})
			}
			sortUsage(rows, o.sortBy)
			tw := newTabWriter(cmd.OutOrStdout())
			if !o.noHeaders {
				fmt.Fprintln(tw, "NAME\tCPU(cores)\tCPU%\tMEMORY(bytes)\tMEMORY%")
			}
			alloc := map[string]map[string]string{}
			for _, n := range list {
				alloc[n.GetMetadata().GetName()] = n.GetStatus().GetAllocatable()
			}
			for _, r := range rows {
				name := r.cells[0]
				if r.usage == nil {
					fmt.Fprintf(tw, "%s\t<unknown>\t<unknown>\t<unknown>\t<unknown>\n", name)
					continue
				}
				cores, mem := r.usage.GetCpuCores(), r.usage.GetMemoryWorkingSetBytes()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name,
					cpuString(cores), percentOf(cores*1000, alloc[name]["cpu"], true),
					memString(mem), percentOf(float64(mem), alloc[name]["memory"], false))
			}
			return tw.Flush()
		},
	}
	o.addFlags(cmd)
	return cmd
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
