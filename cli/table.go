package cli

import (
	"cmp"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// table is how `skiff get` shows one kind: its columns, the extra ones of
// -o wide, and how an object fills them.
type table struct {
	headers []string
	wide    []string
	row     func(obj skiffv1.Resource, now time.Time) (cols, wideCols []string)
}

type tableOpts struct {
	wide      bool
	namespace bool // -A: a NAMESPACE column first
	noHeaders bool
	// namePrefix goes before each NAME ("pod/"), when several kinds share
	// the output.
	namePrefix string
	// endpoints are the Endpoints objects by service key, for the
	// ENDPOINTS column of services.
	endpoints map[string]*skiffv1.Endpoints
	// endpointsRV is the revision endpoints were listed at, where a
	// watch of them starts.
	endpointsRV string
	// labelColumns are -L's label keys, a column each; showLabels adds
	// a LABELS column.
	labelColumns []string
	showLabels   bool
}

// newTabWriter aligns columns as kubectl does.
func newTabWriter(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 6, 4, 3, ' ', 0)
}

// printTable writes objects of one kind as an aligned table.
func printTable(w io.Writer, info skiffv1.KindInfo, objs []skiffv1.Resource, opts tableOpts, now time.Time) error {
	t := tableFor(info.Kind, opts)
	tw := newTabWriter(w)
	if !opts.noHeaders {
		fmt.Fprintln(tw, strings.Join(t.header(opts), "\t"))
	}
	for _, o := range objs {
		fmt.Fprintln(tw, strings.Join(t.cells(o, opts, now), "\t"))
	}
	return tw.Flush()
}

// header is the table's header line, with the columns opts adds.
func (t table) header(opts tableOpts) []string {
	h := append([]string(nil), t.headers...)
	if opts.wide {
		h = append(h, t.wide...)
	}
	for _, k := range opts.labelColumns {
		h = append(h, labelHeader(k))
	}
	if opts.showLabels {
		h = append(h, "LABELS")
	}
	if opts.namespace {
		h = append([]string{"NAMESPACE"}, h...)
	}
	return h
}

// cells is o's row, with the columns opts adds.
func (t table) cells(o skiffv1.Resource, opts tableOpts, now time.Time) []string {
	cols, wide := t.row(o, now)
	if opts.namePrefix != "" && t.headers[0] == "NAME" {
		cols[0] = opts.namePrefix + cols[0]
	}
	if opts.wide {
		cols = append(cols, wide...)
	}
	cols = append(cols, opts.labelCells(o)...)
	if opts.namespace {
		cols = append([]string{o.GetMetadata().GetNamespace()}, cols...)
	}
	return cols
}

func tableFor(k skiffv1.Kind, opts tableOpts) table {
	switch k {
	case skiffv1.Kind_KIND_POD:
		return table{[]string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}, []string{"IP", "NODE"}, podRow}
	case skiffv1.Kind_KIND_NODE:
		return table{[]string{"NAME", "STATUS", "ROLES", "AGE", "VERSION"}, []string{"INTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION"}, nodeRow}
	case skiffv1.Kind_KIND_SERVICE:
		return table{[]string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "SELECTOR", "ENDPOINTS", "AGE"}, nil, func(o skiffv1.Resource, now time.Time) ([]string, []string) {
			return serviceRow(o.(*skiffv1.Service), opts.endpoints[client.KeyOf(o)], now)
		}}
	case skiffv1.Kind_KIND_ENDPOINTS:
		return table{[]string{"NAME", "ENDPOINTS", "AGE"}, nil, endpointsRow}
	case skiffv1.Kind_KIND_VOLUME:
		return table{[]string{"NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "AGE"}, []string{"VOLUMEMODE", "NODE"}, volumeRow}
	case skiffv1.Kind_KIND_PERSISTENT_VOLUME:
		return table{[]string{"NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS", "AGE"}, []string{"VOLUMEMODE", "SOURCE"}, persistentVolumeRow}
	case skiffv1.Kind_KIND_REPLICA_SET:
		return table{[]string{"NAME", "DESIRED", "CURRENT", "READY", "AGE"}, []string{"CONTAINERS", "IMAGES", "SELECTOR"}, replicaSetRow}
	case skiffv1.Kind_KIND_REPLICATION_CONTROLLER:
		return table{[]string{"NAME", "DESIRED", "CURRENT", "READY", "AGE"}, []string{"CONTAINERS", "IMAGES", "SELECTOR"}, replicationControllerRow}
	case skiffv1.Kind_KIND_DEPLOYMENT:
		return table{[]string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"}, []string{"CONTAINERS", "IMAGES", "SELECTOR"}, deploymentRow}
	case skiffv1.Kind_KIND_AUTOSCALER:
		return table{[]string{"NAME", "TARGET", "CPU", "MIN", "MAX", "REPLICAS", "AGE"}, nil, autoscalerRow}
	case skiffv1.Kind_KIND_EVENT:
		return table{[]string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}, []string{"SOURCE", "COUNT"}, eventRow}
	case skiffv1.Kind_KIND_NAMESPACE:
		return table{[]string{"NAME", "STATUS", "AGE"}, nil, namespaceRow}
	case skiffv1.Kind_KIND_CONFIG_MAP:
		return table{[]string{"NAME", "DATA", "AGE"}, nil, configMapRow}
	case skiffv1.Kind_KIND_SECRET:
		return table{[]string{"NAME", "TYPE", "DATA", "AGE"}, nil, secretRow}
	case skiffv1.Kind_KIND_JOB:
		return table{[]string{"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"}, []string{"CONTAINERS", "IMAGES", "SELECTOR"}, jobRow}
	case skiffv1.Kind_KIND_CRON_JOB:
		return table{[]string{"NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"}, []string{"CONTAINERS", "IMAGES", "SELECTOR"}, cronJobRow}
	case skiffv1.Kind_KIND_DAEMON_SET:
		return table{[]string{"NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"}, []string{"CONTAINERS", "IMAGES", "SELECTOR"}, daemonSetRow}
	case skiffv1.Kind_KIND_STATEFUL_SET:
		return table{[]string{"NAME", "READY", "AGE"}, []string{"CONTAINERS", "IMAGES"}, statefulSetRow}
	case skiffv1.Kind_KIND_LEASE:
		return table{[]string{"NAME", "HOLDER", "AGE"}, []string{"RENEWED"}, leaseRow}
	}
	return table{[]string{"NAME", "AGE"}, nil, func(o skiffv1.Resource, now time.Time) ([]string, []string) {
		return []string{o.GetMetadata().GetName(), age(o.GetMetadata().GetCreationTimestamp(), now)}, nil
	}}
}

// leaseRow is kubectl's: the holder and the lease's age; -o wide adds
// how long ago it was last renewed (a node's heartbeat).
func leaseRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	l := o.(*skiffv1.Lease)
	return []string{l.GetMetadata().GetName(), orNone(l.GetSpec().GetHolderIdentity()), age(l.GetMetadata().GetCreationTimestamp(), now)},
		[]string{sinceOrDash(l.GetSpec().GetRenewTime(), now)}
}

func podRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	p := o.(*skiffv1.Pod)
	s := summarizePod(p)
	return []string{
			p.GetMetadata().GetName(),
			fmt.Sprintf("%d/%d", s.ready, s.total),
			s.status,
			fmt.Sprint(s.restarts),
			age(p.GetMetadata().GetCreationTimestamp(), now),
		}, []string{
			orNone(p.GetStatus().GetPodIp()),
			orNone(p.GetSpec().GetNodeName()),
		}
}

func nodeRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	n := o.(*skiffv1.Node)
	info := n.GetStatus().GetNodeInfo()
	return []string{
			n.GetMetadata().GetName(),
			nodeStatus(n),
			nodeRoles(n),
			age(n.GetMetadata().GetCreationTimestamp(), now),
			orNone(info.GetAgentVersion()),
		}, []string{
			orNone(nodeAddress(n, "InternalIP")),
			orUnknown(info.GetOsImage()),
			orUnknown(info.GetKernelVersion()),
		}
}

// nodeStatus is Ready, NotReady or Unknown, then SchedulingDisabled when
// cordoned, as kubectl shows it.
func nodeStatus(n *skiffv1.Node) string {
	s := "Unknown"
	if c := skiffv1.FindCondition(n.GetStatus().GetConditions(), skiffv1.NodeReady); c != nil {
		switch c.GetStatus() {
		case skiffv1.ConditionTrue:
			s = "Ready"
		case skiffv1.ConditionFalse:
			s = "NotReady"
		}
	}
	if n.GetSpec().GetUnschedulable() {
		s += ",SchedulingDisabled"
	}
	return s
}

// nodeRoles reads node-role.skiff.sh/<role> (and Kubernetes') labels.
func nodeRoles(n *skiffv1.Node) string {
	var roles []string
	for k, v := range n.GetMetadata().GetLabels() {
		for _, prefix := range []string{"node-role.skiff.sh/", "node-role.kubernetes.io/"} {
			if r, ok := strings.CutPrefix(k, prefix); ok {
				if r == "" {
					r = v
				}
				if r != "" {
					roles = append(roles, r)
				}
			}
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	sort.Strings(roles)
	return strings.Join(roles, ",")
}

func nodeAddress(n *skiffv1.Node, typ string) string {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == typ {
			return a.GetAddress()
		}
	}
	return ""
}

func serviceRow(s *skiffv1.Service, ep *skiffv1.Endpoints, now time.Time) ([]string, []string) {
	return []string{
		s.GetMetadata().GetName(),
		orNone(s.GetSpec().GetType()),
		orNone(s.GetSpec().GetClusterIp()),
		externalIPs(s),
		servicePorts(s),
		orNone(formatMap(s.GetSpec().GetSelector())),
		formatEndpoints(ep, 3),
		age(s.GetMetadata().GetCreationTimestamp(), now),
	}, nil
}

// externalIPs is kubectl's EXTERNAL-IP: a load balancer's addresses and
// the externalIPs, comma-joined; "<pending>" for a LoadBalancer service
// without any yet, "<none>" for another.
func externalIPs(s *skiffv1.Service) string {
	var out []string
	for _, in := range s.GetStatus().GetLoadBalancer().GetIngress() {
		if a := cmp.Or(in.GetIp(), in.GetHostname()); a != "" {
			out = append(out, a)
		}
	}
	out = append(out, s.GetSpec().GetExternalIps()...)
	switch {
	case len(out) > 0:
		return strings.Join(out, ",")
	case s.GetSpec().GetType() == skiffv1.ServiceTypeLoadBalancer:
		return "<pending>"
	}
	return "<none>"
}

// servicePorts is "80/TCP,53/UDP", with node ports as kubectl shows them:
// "80:30080/TCP".
func servicePorts(s *skiffv1.Service) string {
	var out []string
	for _, p := range s.GetSpec().GetPorts() {
		proto := p.GetProtocol()
		if proto == "" {
			proto = "TCP"
		}
		if p.GetNodePort() != 0 {
			out = append(out, fmt.Sprintf("%d:%d/%s", p.GetPort(), p.GetNodePort(), proto))
			continue
		}
		out = append(out, fmt.Sprintf("%d/%s", p.GetPort(), proto))
	}
	if len(out) == 0 {
		return "<none>"
	}
	return strings.Join(out, ",")
}

func targetPort(p *skiffv1.ServicePort) string {
	if p.GetTargetPort() != "" {
		return p.GetTargetPort()
	}
	return fmt.Sprint(p.GetPort())
}

// volumeRow prints a Volume as kubectl prints a claim. VOLUME is the
// PersistentVolume a claim is bound to, or the Volume's own source;
// CAPACITY and ACCESS MODES are what it got once bound.
func volumeRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	v := o.(*skiffv1.Volume)
	s, st := v.GetSpec(), v.GetStatus()
	volume, capacity, mode := s.GetVolumeName(), st.GetCapacity(), st.GetAccessMode()
	switch {
	case s.GetLocal() != nil || s.GetHostPath() != nil || s.GetNfs() != nil:
		// Its own storage: what it has is what it asked for.
		volume, capacity, mode = volumeSource(v), s.GetCapacity(), orDefault(s.GetAccessMode(), "ReadWriteOnce")
	case st.GetPhase() != skiffv1.VolumeBound:
		capacity, mode = "", ""
	}
	modes := ""
	if mode != "" {
		modes = accessMode(mode)
	}
	return []string{
			v.GetMetadata().GetName(),
			orDefault(st.GetPhase(), skiffv1.VolumePending),
			volume,
			capacity,
			modes,
			storageClass(s.StorageClassName),
			age(v.GetMetadata().GetCreationTimestamp(), now),
		}, []string{
			"Filesystem",
			orNone(s.GetLocal().GetNodeName()),
		}
}

// storageClass prints a claim's class: "<unset>" when it names none, as
// kubectl does, "" for the empty class.
func storageClass(c *string) string {
	if c == nil {
		return "<unset>"
	}
	return *c
}

func persistentVolumeRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	pv := o.(*skiffv1.PersistentVolume)
	s := pv.GetSpec()
	var modes []string
	for _, m := range s.GetAccessModes() {
		modes = append(modes, accessMode(m))
	}
	claim := ""
	if ref := s.GetClaimRef(); ref != nil {
		claim = ref.GetNamespace() + "/" + ref.GetName()
	}
	return []string{
			pv.GetMetadata().GetName(),
			s.GetCapacity()["storage"],
			strings.Join(modes, ","),
			s.GetPersistentVolumeReclaimPolicy(),
			pv.GetStatus().GetPhase(),
			claim,
			s.GetStorageClassName(),
			age(pv.GetMetadata().GetCreationTimestamp(), now),
		}, []string{
			s.GetVolumeMode(),
			persistentVolumeSource(pv),
		}
}

func persistentVolumeSource(pv *skiffv1.PersistentVolume) string {
	switch s := pv.GetSpec(); {
	case s.GetHostPath() != nil:
		return "hostPath:" + s.GetHostPath().GetPath()
	case s.GetLocal() != nil:
		return "local:" + s.GetLocal().GetPath()
	}
	return "<none>"
}

// accessMode abbreviates as kubectl does for volumes.
func accessMode(m string) string {
	switch m {
	case "", "ReadWriteOnce":
		return "RWO"
	case "ReadWriteMany":
		return "RWX"
	}
	return m
}

func volumeSource(v *skiffv1.Volume) string {
	switch s := v.GetSpec(); {
	case s.GetLocal() != nil:
		return "local"
	case s.GetHostPath() != nil:
		return "hostPath:" + s.GetHostPath().GetPath()
	case s.GetNfs() != nil:
		return "nfs:" + s.GetNfs().GetServer() + ":" + s.GetNfs().GetPath()
	}
	return "<none>"
}

func replicaSetRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	rs := o.(*skiffv1.ReplicaSet)
	return []string{
		rs.GetMetadata().GetName(),
		fmt.Sprint(desiredReplicas(rs.GetSpec().Replicas)),
		fmt.Sprint(rs.GetStatus().GetReplicas()),
		fmt.Sprint(rs.GetStatus().GetReadyReplicas()),
		age(rs.GetMetadata().GetCreationTimestamp(), now),
	}, templateColumns(rs.GetSpec().GetTemplate(), rs.GetSpec().GetSelector())
}

// replicationControllerRow: a replica set's columns, as kubectl's.
func replicationControllerRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	rc := o.(*skiffv1.ReplicationController)
	return []string{
		rc.GetMetadata().GetName(),
		fmt.Sprint(desiredReplicas(rc.GetSpec().Replicas)),
		fmt.Sprint(rc.GetStatus().GetReplicas()),
		fmt.Sprint(rc.GetStatus().GetReadyReplicas()),
		age(rc.GetMetadata().GetCreationTimestamp(), now),
	}, templateColumns(rc.GetSpec().GetTemplate(), &skiffv1.LabelSelector{MatchLabels: rc.GetSpec().GetSelector()})
}

// deploymentRow: READY is ready/desired, as kubectl's.
func deploymentRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	dp := o.(*skiffv1.Deployment)
	st := dp.GetStatus()
	return []string{
		dp.GetMetadata().GetName(),
		fmt.Sprintf("%d/%d", st.GetReadyReplicas(), desiredReplicas(dp.GetSpec().Replicas)),
		fmt.Sprint(st.GetUpdatedReplicas()),
		fmt.Sprint(st.GetAvailableReplicas()),
		age(dp.GetMetadata().GetCreationTimestamp(), now),
	}, templateColumns(dp.GetSpec().GetTemplate(), dp.GetSpec().GetSelector())
}

// desiredReplicas is spec.replicas, 1 when unset.
func desiredReplicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// templateColumns are the wide columns of replica sets and deployments.
func templateColumns(t *skiffv1.PodTemplateSpec, sel *skiffv1.LabelSelector) []string {
	var names, images []string
	for _, c := range t.GetSpec().GetContainers() {
		names = append(names, c.GetName())
		images = append(images, c.GetImage())
	}
	return []string{
		orNone(strings.Join(names, ",")),
		orNone(strings.Join(images, ",")),
		orNone(formatSelector(sel)),
	}
}

// autoscalerTarget is KIND/NAME of what the autoscaler scales.
func autoscalerTarget(a *skiffv1.Autoscaler) string {
	kind := a.GetSpec().GetTargetKind()
	if kind == "" {
		kind = "ReplicaSet"
	}
	return kind + "/" + a.GetSpec().GetTarget()
}

func autoscalerRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	a := o.(*skiffv1.Autoscaler)
	return []string{
		a.GetMetadata().GetName(),
		autoscalerTarget(a),
		autoscalerCPU(a),
		fmt.Sprint(minReplicas(a)),
		fmt.Sprint(a.GetSpec().GetMaxReplicas()),
		fmt.Sprint(a.GetStatus().GetCurrentReplicas()),
		age(a.GetMetadata().GetCreationTimestamp(), now),
	}, nil
}

// autoscalerCPU is "current%/target%", as kubectl's TARGETS column, or
// "name: current/target" per metric when it has metrics. Only the CPU
// utilization is read back into the status.
func autoscalerCPU(a *skiffv1.Autoscaler) string {
	cur := "<unknown>"
	if c := a.GetStatus().CurrentCpuUtilizationPercent; c != nil {
		cur = fmt.Sprintf("%d%%", *c)
	}
	if len(a.GetSpec().GetMetrics()) == 0 {
		return fmt.Sprintf("%s/%d%%", cur, targetCPU(a))
	}
	var out []string
	for _, m := range a.GetSpec().GetMetrics() {
		r, t := m.GetResource(), m.GetResource().GetTarget()
		now, want := "<unknown>", t.GetAverageValue()
		if t.GetType() == "Utilization" {
			want = fmt.Sprintf("%d%%", t.GetAverageUtilization())
			if r.GetName() == "cpu" {
				now = cur
			}
		}
		out = append(out, fmt.Sprintf("%s: %s/%s", r.GetName(), now, want))
	}
	return strings.Join(out, ", ")
}

func targetCPU(a *skiffv1.Autoscaler) int32 {
	if t := a.GetSpec().TargetCpuUtilizationPercent; t != nil {
		return *t
	}
	return 80
}

func minReplicas(a *skiffv1.Autoscaler) int32 {
	if m := a.GetSpec().MinReplicas; m != nil {
		return *m
	}
	return 1
}

func eventRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	e := o.(*skiffv1.Event)
	return []string{
			age(eventTime(e), now),
			e.GetType(),
			e.GetReason(),
			strings.ToLower(e.GetInvolvedObject().GetKind()) + "/" + e.GetInvolvedObject().GetName(),
			oneLine(e.GetMessage()),
		}, []string{
			orNone(e.GetSource()),
			fmt.Sprint(max(e.GetCount(), 1)),
		}
}

func namespaceRow(o skiffv1.Resource, now time.Time) ([]string, []string) {
	n := o.(*skiffv1.Namespace)
	return []string{
		n.GetMetadata().GetName(),
		orUnknown(n.GetStatus().GetPhase()),
		age(n.GetMetadata().GetCreationTimestamp(), now),
	}, nil
}

// formatMap prints labels and selectors as "a=1,b=2", sorted.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// formatSelector prints a label selector in the syntax -l accepts.
func formatSelector(s *skiffv1.LabelSelector) string {
	parts := []string{}
	if m := formatMap(s.GetMatchLabels()); m != "" {
		parts = append(parts, m)
	}
	for _, r := range s.GetMatchExpressions() {
		switch r.GetOperator() {
		case "In":
			parts = append(parts, fmt.Sprintf("%s in (%s)", r.GetKey(), strings.Join(r.GetValues(), ",")))
		case "NotIn":
			parts = append(parts, fmt.Sprintf("%s notin (%s)", r.GetKey(), strings.Join(r.GetValues(), ",")))
		case "Exists":
			parts = append(parts, r.GetKey())
		case "DoesNotExist":
			parts = append(parts, "!"+r.GetKey())
		}
	}
	return strings.Join(parts, ",")
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// oneLine keeps a multi-line message from breaking the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
