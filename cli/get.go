package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/cli/jsonpath"
	"github.com/skiff-sh/skiff/cli/slimlist"
	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

type getOpts struct {
	allNamespaces bool
	labelSel      string
	fieldSel      string
	output        string
	watch         bool
	noHeaders     bool
	chunkSize     int64
	// allowMissing is --allow-missing-template-keys: a key a jsonpath
	// names and an object lacks prints nothing rather than failing.
	allowMissing bool
	labelColumns []string
	showLabels   bool
	sortBy       string
}

func newGetCommand(e *env) *cobra.Command {
	o := &getOpts{}
	cmd := &cobra.Command{
		Use:   "get KIND [NAME...] | KIND/NAME...",
		Short: "List objects of a kind as a table, or print them as YAML or JSON",
		Long: `List objects of one kind as an aligned table, or print them whole.

KIND is a kind's name, plural or short name: pods (po), services (svc),
deployments (deploy), replicasets (rs), statefulsets (sts), daemonsets
(ds), jobs, cronjobs (cj), configmaps (cm), secrets, volumes (vol, pvc),
persistentvolumes (pv), replicationcontrollers (rc), autoscalers (as, hpa),
nodes (no), namespaces (ns), events (ev), endpoints (ep), leases. Several
kinds: pods,svc. "all": pods, services and every workload kind. Objects
may also be named as KIND/NAME, of one kind or several: deploy/web svc/web.

-o yaml and -o json print manifests that ` + "`skiff apply`" + ` accepts again.
-o jsonpath=TEMPLATE runs a kubectl JSONPath template over that JSON: over
the object when one is named, else over the List (` + "`{.items[*].metadata.name}`" + `).
-o custom-columns=HEADER:PATH,... prints a table of those paths, one row
per object.`,
		Example: `  skiff get pods                       # pods in the default namespace
  skiff get po -o wide                 # with pod IPs and nodes
  skiff get pods -A                    # in every namespace
  skiff get all                        # pods, services and every workload kind
  skiff get pod web -o yaml            # one pod, as a manifest
  skiff get deploy/web svc/web         # named objects of several kinds
  skiff get pods -l app=web,tier!=db   # by labels
  skiff get pods --field-selector spec.nodeName=node1
  skiff get nodes
  skiff get events -n team -w          # and stream changes until Ctrl-C
  skiff get pods -A --chunk-size 100   # read in pages of 100 (0: in one request)
  skiff get svc web -o jsonpath='{.spec.clusterIP}'
  skiff get nodes -o jsonpath='{range .items[*]}{.metadata.name}{"\t"}{.status.addresses[0].address}{"\n"}{end}'
  skiff get pods -o custom-columns=NAME:.metadata.name,IP:.status.podIP
  skiff get pods --show-labels -L app  # a LABELS column, and one for app
  skiff get pods --sort-by=.metadata.creationTimestamp`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd, e, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list the objects of every namespace")
	f.StringVarP(&o.labelSel, "selector", "l", "", "label selector, e.g. app=web,tier!=db,env in (a,b)")
	f.StringVar(&o.fieldSel, "field-selector", "", "field selector, e.g. spec.nodeName=node1,status.phase!=Running")
	f.StringVarP(&o.output, "output", "o", "", "output format: "+outputFormats)
	f.BoolVar(&o.allowMissing, "allow-missing-template-keys", true, "with -o jsonpath, a key an object lacks prints nothing (false: it is an error)")
	f.BoolVarP(&o.watch, "watch", "w", false, "after listing, stream changes until interrupted")
	f.BoolVar(&o.noHeaders, "no-headers", false, "leave out the table's header line")
	f.Int64Var(&o.chunkSize, "chunk-size", client.DefaultChunkSize, "read large lists in pages of this many items, all at one revision (0: in one request)")
	f.StringSliceVarP(&o.labelColumns, "label-columns", "L", nil, "a column with the value of each of these labels")
	f.BoolVar(&o.showLabels, "show-labels", false, "a LABELS column with every label")
	f.StringVar(&o.sortBy, "sort-by", "", "sort by the value at this JSONPath, e.g. .metadata.name or '{.status.startTime}'")
	return cmd
}

// kindNames is one kind of a get and the names asked for (none: all).
type kindNames struct {
	kind  string
	names []string
}

// slashGroups reads kubectl's "TYPE/NAME..." arguments, grouped by kind in
// the order first named; nil when the arguments are not in that form.
func slashGroups(args []string) ([]kindNames, error) {
	if !strings.Contains(args[0], "/") {
		return nil, nil
	}
	var groups []kindNames
next:
	for _, a := range args {
		k, name, ok := strings.Cut(a, "/")
		switch {
		case !ok:
			return nil, fmt.Errorf("%q: with TYPE/NAME arguments, give every object so (no separate TYPE or NAME)", a)
		case name == "":
			return nil, fmt.Errorf("%q: no name after the slash; give KIND/NAME", a)
		}
		for i := range groups {
			if groups[i].kind == k || sameKind(groups[i].kind, k) {
				groups[i].names = append(groups[i].names, name)
				continue next
			}
		}
		groups = append(groups, kindNames{kind: k, names: []string{name}})
	}
	return groups, nil
}

func sameKind(a, b string) bool {
	ia, errA := parseKind(a)
	ib, errB := parseKind(b)
	return errA == nil && errB == nil && ia.Name == ib.Name
}

func runGet(cmd *cobra.Command, e *env, o *getOpts, args []string) error {
	if o.chunkSize < 0 {
		return fmt.Errorf("--chunk-size %d: give 0 (one request) or a page size", o.chunkSize)
	}
	groups, err := slashGroups(args)
	switch {
	case err != nil:
		return err
	case len(groups) == 1:
		args = append([]string{groups[0].kind}, groups[0].names...)
	case len(groups) > 1:
		return runGetKinds(cmd, e, o, groups)
	}
	args = append([]string{expandAll(args[0])}, args[1:]...)
	if strings.Contains(args[0], ",") {
		if len(args) > 1 {
			return errors.New("with several kinds (KIND,KIND), give no names; name objects as KIND/NAME KIND/NAME")
		}
		var groups []kindNames
		for _, k := range strings.Split(args[0], ",") {
			groups = append(groups, kindNames{kind: strings.TrimSpace(k)})
		}
		return runGetKinds(cmd, e, o, groups)
	}
	info, err := parseKind(args[0])
	if err != nil {
		return err
	}
	tp, err := parseOutput(o)
	if err != nil {
		return err
	}
	sortKey, err := parseSortBy(o.sortBy)
	if err != nil {
		return err
	}
	names := args[1:]
	if len(names) > 0 && (o.labelSel != "" || o.fieldSel != "") {
		return errors.New("give names or a selector (-l, --field-selector), not both")
	}
	if len(names) > 0 && o.allNamespaces {
		return errors.New("-A lists every namespace; with names, use -n NAMESPACE instead")
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	ns := e.ns()
	if o.allNamespaces {
		ns = ""
	}
	out := cmd.OutOrStdout()
	topts := tableOpts{wide: o.output == "wide", namespace: o.allNamespaces && info.Namespaced, noHeaders: o.noHeaders,
		labelColumns: o.labelColumns, showLabels: o.showLabels}
	if len(names) == 0 && pageable(info, o, tp, sortKey) {
		if err := addEndpoints(cmd.Context(), e, c, info, ns, o.output, &topts); err != nil {
			return err
		}
		return printPaged(cmd, e, c, info, ns, o, topts)
	}

	var objs []skiffv1.Resource
	var rv string
	var missing []error
	if len(names) > 0 {
		for _, name := range names {
			ctx, cancel := e.call(cmd.Context())
			obj, err := getObject(ctx, c, info, ns, name)
			cancel()
			if client.IsNotFound(err) {
				missing = append(missing, err)
				continue
			}
			if err != nil {
				return err
			}
			objs = append(objs, obj)
		}
	} else {
		objs, rv, err = listEvery(cmd, e, c, info, ns, o.labelSel, o.fieldSel, o.chunkSize)
		if err != nil {
			return err
		}
		if info.Kind == skiffv1.Kind_KIND_EVENT {
			sortEvents(objs)
		}
	}

	if sortKey != nil {
		if err := sortObjects(objs, sortKey); err != nil {
			return err
		}
	}
	if err := addEndpoints(cmd.Context(), e, c, info, ns, o.output, &topts); err != nil {
		return err
	}
	switch {
	case len(objs) == 0 && len(names) == 0 && (o.output == "" || o.output == "wide" || tp.isColumns()):
		if !o.watch {
			fmt.Fprintln(cmd.ErrOrStderr(), noResources(info, ns))
		}
	case tp != nil && o.watch && !tp.isColumns():
		// A watch renders each object as its events will.
		for _, obj := range objs {
			if err := tp.print(out, []skiffv1.Resource{obj}, true, true); err != nil {
				return err
			}
		}
	case tp != nil:
		if len(objs) > 0 || len(names) == 0 {
			if err := tp.print(out, objs, len(names) == 1, o.noHeaders); err != nil {
				return err
			}
		}
	case o.output == "yaml" || o.output == "json":
		if len(objs) > 0 || len(names) == 0 {
			if err := printObjects(out, o.output, objs, len(names) == 1); err != nil {
				return err
			}
		}
	case o.output == "name":
		for _, obj := range objs {
			fmt.Fprintln(out, slashName(info, obj.GetMetadata().GetName()))
		}
	default:
		if len(objs) > 0 {
			if err := printTable(out, info, objs, topts, e.now()); err != nil {
				return err
			}
		}
	}
	if len(missing) > 0 {
		return errors.Join(missing...)
	}
	if !o.watch {
		return nil
	}
	if len(names) > 1 {
		return errors.New("--watch follows one name or a whole kind, not several names")
	}
	sel := o.fieldSel
	if len(names) == 1 {
		sel = "metadata.name=" + names[0]
		rv = ""
		if len(objs) == 1 {
			rv = objs[0].GetMetadata().GetResourceVersion()
		}
	}
	topts.noHeaders = topts.noHeaders || len(objs) > 0
	return watchObjects(cmd, e, c, info, ns, o.labelSel, sel, rv, o.output, tp, topts, objs)
}

// pageable says whether a list can be printed from its pages as they
// arrive, each page dropped once its rows are made: a table or names, in
// the server's order, not followed by a watch. Sorting (--sort-by, events
// by time) and whole-object formats need every object at once.
func pageable(info skiffv1.KindInfo, o *getOpts, tp *templateOutput, sortKey *jsonpath.Path) bool {
	return tp == nil && sortKey == nil && !o.watch && o.chunkSize > 0 && info.Kind != skiffv1.Kind_KIND_EVENT &&
		(o.output == "" || o.output == "wide" || o.output == "name")
}

// printPaged prints every matching object from the list's pages as they
// arrive. Names go out a page at a time. A table's rows wait in the tab
// writer, so its columns line up over every page as in one request, but
// the decoded objects are dropped a page at a time: a table of 150,000
// pods holds its text (~100 bytes a row), not the pods (~2 KB each
// decoded), and the next page is read while one is turned into rows.
func printPaged(cmd *cobra.Command, e *env, c *client.Client, info skiffv1.KindInfo, ns string, o *getOpts, topts tableOpts) error {
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	t := tableFor(info.Kind, topts)
	tw := newTabWriter(out)
	now := e.now()
	n := 0
	// --request-timeout bounds the wait for each page, not the whole list:
	// a list of 150,000 pods may take longer than one request may.
	ctx, progress, stop := stallGuard(cmd.Context(), e.requestTimeout, true)
	defer stop()
	api := c.API()
	if info.Kind == skiffv1.Kind_KIND_POD {
		// A pod row reads a few of a pod's fields: the rest are not decoded.
		api = slimlist.Pods(api, len(topts.labelColumns) > 0 || topts.showLabels)
	}
	err := client.ListEach(ctx, api, &skiffv1.ListRequest{
		Kind: info.Kind, Namespace: nsFor(info, ns), LabelSelector: o.labelSel, FieldSelector: o.fieldSel,
	}, o.chunkSize, func(items []*skiffv1.Object, _ string) error {
		progress()
		for _, it := range items {
			obj, err := unwrapAs(it, info)
			if err != nil {
				return err
			}
			switch {
			case o.output == "name":
				fmt.Fprintln(out, slashName(info, obj.GetMetadata().GetName()))
				continue
			case n == 0 && !topts.noHeaders:
				fmt.Fprintln(tw, strings.Join(t.header(topts), "\t"))
			}
			fmt.Fprintln(tw, strings.Join(t.cells(obj, topts, now), "\t"))
			n++
		}
		return out.Flush()
	})
	if err != nil {
		return listFailed(ctx, err, info, e.requestTimeout)
	}
	if o.output == "name" {
		return nil
	}
	if n == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), noResources(info, ns))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return out.Flush()
}

// parseOutput checks --output, and parses a jsonpath or custom-columns
// template (nil for the other formats).
func parseOutput(o *getOpts) (*templateOutput, error) {
	tp, err := parseTemplateOutput(o.output, o.allowMissing)
	if err != nil || tp != nil {
		return tp, err
	}
	switch o.output {
	case "", "wide", "yaml", "json", "name":
		return nil, nil
	}
	return nil, fmt.Errorf("--output %q: use %s", o.output, outputFormats)
}

// noResources is kubectl's message for an empty list.
func noResources(info skiffv1.KindInfo, ns string) string {
	if !info.Namespaced || ns == "" {
		return "No resources found"
	}
	return fmt.Sprintf("No resources found in %s namespace.", ns)
}

// runGetKinds serves `get pods,svc`: one table per kind, names prefixed
// with their kind as kubectl does, or one List with every object.
func runGetKinds(cmd *cobra.Command, e *env, o *getOpts, groups []kindNames) error {
	named := len(groups[0].names) > 0
	switch {
	case o.watch:
		return errors.New("--watch follows one kind; give one")
	case named && (o.labelSel != "" || o.fieldSel != ""):
		return errors.New("give names or a selector (-l, --field-selector), not both")
	case named && o.allNamespaces:
		return errors.New("-A lists every namespace; with names, use -n NAMESPACE instead")
	}
	tp, err := parseOutput(o)
	if err != nil {
		return err
	}
	sortKey, err := parseSortBy(o.sortBy)
	if err != nil {
		return err
	}
	var infos []skiffv1.KindInfo
	for _, g := range groups {
		info, err := parseKind(g.kind)
		if err != nil {
			return err
		}
		infos = append(infos, info)
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	ns := e.ns()
	if o.allNamespaces {
		ns = ""
	}
	out := cmd.OutOrStdout()
	var all []skiffv1.Resource
	var missing []error
	printed := false
	for i, info := range infos {
		objs, notFound, err := getKind(cmd, e, c, info, ns, groups[i].names, o)
		if err != nil {
			return err
		}
		missing = append(missing, notFound...)
		if sortKey != nil {
			if err := sortObjects(objs, sortKey); err != nil {
				return err
			}
		}
		all = append(all, objs...)
		switch {
		case tp != nil || o.output == "yaml" || o.output == "json":
			continue
		case o.output == "name":
			for _, obj := range objs {
				fmt.Fprintln(out, slashName(info, obj.GetMetadata().GetName()))
			}
			continue
		}
		if len(objs) == 0 {
			continue
		}
		if printed {
			fmt.Fprintln(out)
		}
		topts := tableOpts{wide: o.output == "wide", namespace: o.allNamespaces && info.Namespaced,
			noHeaders: o.noHeaders, namePrefix: lower(info) + "/", labelColumns: o.labelColumns, showLabels: o.showLabels}
		if err := addEndpoints(cmd.Context(), e, c, info, ns, o.output, &topts); err != nil {
			return err
		}
		if err := printTable(out, info, objs, topts, e.now()); err != nil {
			return err
		}
		printed = true
	}
	switch {
	case o.output == "yaml" || o.output == "json":
		return printObjects(out, o.output, all, false)
	case tp != nil && (len(all) > 0 || !tp.isColumns()):
		return tp.print(out, all, false, o.noHeaders)
	case len(all) == 0 && o.output != "name" && !named:
		fmt.Fprintln(cmd.ErrOrStderr(), noResources(infos[0], ns))
	}
	return errors.Join(missing...)
}

// getKind is the objects of one kind a get asks for: those named (the
// ones not found as errors), or the list.
func getKind(cmd *cobra.Command, e *env, c *client.Client, info skiffv1.KindInfo, ns string, names []string, o *getOpts) (objs []skiffv1.Resource, missing []error, err error) {
	if len(names) == 0 {
		objs, _, err = listEvery(cmd, e, c, info, ns, o.labelSel, o.fieldSel, o.chunkSize)
		return objs, nil, err
	}
	for _, name := range names {
		ctx, cancel := e.call(cmd.Context())
		obj, err := getObject(ctx, c, info, ns, name)
		cancel()
		switch {
		case client.IsNotFound(err):
			missing = append(missing, err)
		case err != nil:
			return nil, nil, err
		default:
			objs = append(objs, obj)
		}
	}
	return objs, missing, nil
}

// addEndpoints fetches what a table of services shows in its ENDPOINTS
// column (a watch then follows their changes).
func addEndpoints(ctx context.Context, e *env, c *client.Client, info skiffv1.KindInfo, ns, output string, topts *tableOpts) error {
	if info.Kind != skiffv1.Kind_KIND_SERVICE || (output != "" && output != "wide") {
		return nil
	}
	ctx, cancel := e.call(ctx)
	defer cancel()
	eps, rv, err := endpointsByService(ctx, c, ns)
	topts.endpoints, topts.endpointsRV = eps, rv
	return err
}

// allKinds is what kubectl's "get all" lists: the workloads and what
// serves them.
const allKinds = "pods,services,daemonsets,deployments,replicasets,replicationcontrollers,statefulsets,autoscalers,jobs,cronjobs"

// expandAll replaces "all" in a KIND or KIND,KIND argument with allKinds.
func expandAll(kinds string) string {
	parts := strings.Split(kinds, ",")
	for i, k := range parts {
		if strings.TrimSpace(k) == "all" {
			parts[i] = allKinds
		}
	}
	return strings.Join(parts, ",")
}
