package skiffv1

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Resource is what every object kind has in common.
type Resource interface {
	proto.Message
	GetMetadata() *ObjectMeta
}

// KindInfo describes one kind: its names on the command line and in
// manifests, whether it lives in a namespace, and how to make a new one.
type KindInfo struct {
	Kind       Kind
	Name       string   // manifest kind, e.g. "ReplicaSet"
	Plural     string   // e.g. "replicasets"; also the etcd key segment
	ShortNames []string // e.g. "rs"
	Namespaced bool
	HasStatus  bool
	New        func() Resource
}

// kindInfos is the one list of kinds: adding a kind is a row here, after
// its message and oneof field in the proto (docs/ARCHITECTURE.md, "Adding
// a kind").
var kindInfos = []KindInfo{
	{Kind_KIND_NAMESPACE, "Namespace", "namespaces", []string{"ns"}, false, true, func() Resource { return &Namespace{} }},
	{Kind_KIND_NODE, "Node", "nodes", []string{"no"}, false, true, func() Resource { return &Node{} }},
	{Kind_KIND_POD, "Pod", "pods", []string{"po"}, true, true, func() Resource { return &Pod{} }},
	{Kind_KIND_SERVICE, "Service", "services", []string{"svc"}, true, true, func() Resource { return &Service{} }},
	{Kind_KIND_VOLUME, "Volume", "volumes", []string{"vol", "pvc"}, true, true, func() Resource { return &Volume{} }},
	{Kind_KIND_REPLICA_SET, "ReplicaSet", "replicasets", []string{"rs"}, true, true, func() Resource { return &ReplicaSet{} }},
	{Kind_KIND_AUTOSCALER, "Autoscaler", "autoscalers", []string{"as", "hpa"}, true, true, func() Resource { return &Autoscaler{} }},
	{Kind_KIND_EVENT, "Event", "events", []string{"ev"}, true, false, func() Resource { return &Event{} }},
	// ConfigMap and Secret
	{Kind_KIND_CONFIG_MAP, "ConfigMap", "configmaps", []string{"cm"}, true, false, func() Resource { return &ConfigMap{} }},
	{Kind_KIND_SECRET, "Secret", "secrets", nil, true, false, func() Resource { return &Secret{} }},
	{Kind_KIND_DEPLOYMENT, "Deployment", "deployments", []string{"deploy"}, true, true, func() Resource { return &Deployment{} }},
	{Kind_KIND_ENDPOINTS, "Endpoints", "endpoints", []string{"ep", "endpointslice", "endpointslices"}, true, false, func() Resource { return &Endpoints{} }},
	{Kind_KIND_JOB, "Job", "jobs", nil, true, true, func() Resource { return &Job{} }},
	{Kind_KIND_CRON_JOB, "CronJob", "cronjobs", []string{"cj"}, true, true, func() Resource { return &CronJob{} }},
	{Kind_KIND_DAEMON_SET, "DaemonSet", "daemonsets", []string{"ds"}, true, true, func() Resource { return &DaemonSet{} }},
	{Kind_KIND_STATEFUL_SET, "StatefulSet", "statefulsets", []string{"sts"}, true, true, func() Resource { return &StatefulSet{} }},
	{Kind_KIND_PERSISTENT_VOLUME, "PersistentVolume", "persistentvolumes", []string{"pv"}, false, true, func() Resource { return &PersistentVolume{} }},
	{Kind_KIND_LEASE, "Lease", "leases", nil, true, false, func() Resource { return &Lease{} }},
	{Kind_KIND_REPLICATION_CONTROLLER, "ReplicationController", "replicationcontrollers", []string{"rc"}, true, true, func() Resource { return &ReplicationController{} }},
}

// Kinds lists every kind, in a stable order.
func Kinds() []KindInfo { return append([]KindInfo(nil), kindInfos...) }

// Info returns the description of k; ok is false for an unknown kind.
func Info(k Kind) (KindInfo, bool) {
	for _, i := range kindInfos {
		if i.Kind == k {
			return i, true
		}
	}
	return KindInfo{}, false
}

// ParseKind accepts a kind's manifest name, singular or plural lower-case
// name, or short name ("Pod", "pod", "pods", "po").
func ParseKind(s string) (KindInfo, error) {
	l := strings.ToLower(s)
	for _, i := range kindInfos {
		if l == strings.ToLower(i.Name) || l == i.Plural {
			return i, nil
		}
		for _, sn := range i.ShortNames {
			if l == sn {
				return i, nil
			}
		}
	}
	// Kubernetes' names for the kinds skiff holds under another one
	// ("persistentvolumeclaims", "horizontalpodautoscaler"), as kubectl
	// takes them.
	for _, t := range kubernetesTypes {
		if k := strings.ToLower(t.Kind); l == k || l == k+"s" {
			if i, ok := Info(t.HeldBy); ok {
				return i, nil
			}
		}
	}
	return KindInfo{}, fmt.Errorf("unknown kind %q; valid kinds: %s", s, strings.Join(KindNames(), ", "))
}

// KindNames lists the manifest names of every kind, sorted.
func KindNames() []string {
	var names []string
	for _, i := range kindInfos {
		names = append(names, i.Name)
	}
	sort.Strings(names)
	return names
}

// The Object envelope holds one kind in its oneof "kind", one field per
// kind. KindOf, Wrap and Unwrap find the field by the message's type, so a
// new kind needs only its row in kindInfos (and its field in the oneof).
var kindFields = sync.OnceValues(func() (map[protoreflect.FullName]KindInfo, map[protoreflect.FullName]protoreflect.FieldDescriptor) {
	infos := map[protoreflect.FullName]KindInfo{}
	for _, i := range kindInfos {
		infos[i.New().ProtoReflect().Descriptor().FullName()] = i
	}
	fields := map[protoreflect.FullName]protoreflect.FieldDescriptor{}
	oneof := (&Object{}).ProtoReflect().Descriptor().Oneofs().ByName("kind")
	for i := 0; i < oneof.Fields().Len(); i++ {
		f := oneof.Fields().Get(i)
		fields[f.Message().FullName()] = f
	}
	return infos, fields
})

// KindOf returns the kind of a typed object.
func KindOf(r Resource) Kind {
	if r == nil {
		return Kind_KIND_UNSPECIFIED
	}
	infos, _ := kindFields()
	return infos[r.ProtoReflect().Descriptor().FullName()].Kind
}

// Wrap puts a typed object into the Object envelope the API carries.
func Wrap(r Resource) *Object {
	o := &Object{}
	if r == nil || !r.ProtoReflect().IsValid() {
		return o
	}
	_, fields := kindFields()
	if f, ok := fields[r.ProtoReflect().Descriptor().FullName()]; ok {
		o.ProtoReflect().Set(f, protoreflect.ValueOfMessage(r.ProtoReflect()))
	}
	return o
}

// Unwrap returns the typed object inside the envelope, or nil when empty.
func (o *Object) Unwrap() Resource {
	m := o.ProtoReflect()
	if !m.IsValid() {
		return nil
	}
	f := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind"))
	if f == nil {
		return nil
	}
	return m.Get(f).Message().Interface().(Resource)
}

// ObjectKind returns the kind held by the envelope.
func (o *Object) ObjectKind() Kind {
	if r := o.Unwrap(); r != nil {
		return KindOf(r)
	}
	return Kind_KIND_UNSPECIFIED
}

// KubernetesType is a Kubernetes apiVersion and kind that skiff serves, and
// the skiff kind that holds such objects. Manifests of these are converted
// to skiff's objects on the way in and back on the way out; nothing else
// knows them.
type KubernetesType struct {
	APIVersion string
	Kind       string
	HeldBy     Kind
}

var kubernetesTypes = []KubernetesType{
	{"v1", "Namespace", Kind_KIND_NAMESPACE},
	{"v1", "Node", Kind_KIND_NODE},
	{"v1", "Pod", Kind_KIND_POD},
	{"v1", "Service", Kind_KIND_SERVICE},
	{"v1", "Event", Kind_KIND_EVENT},
	{"v1", "Endpoints", Kind_KIND_ENDPOINTS},
	{"v1", "PersistentVolumeClaim", Kind_KIND_VOLUME},
	{"v1", "PersistentVolume", Kind_KIND_PERSISTENT_VOLUME},
	{"apps/v1", "ReplicaSet", Kind_KIND_REPLICA_SET},
	{"apps/v1", "Deployment", Kind_KIND_DEPLOYMENT},
	{"autoscaling/v1", "HorizontalPodAutoscaler", Kind_KIND_AUTOSCALER},
	{"autoscaling/v2", "HorizontalPodAutoscaler", Kind_KIND_AUTOSCALER},
	// ConfigMap and Secret
	{"v1", "ConfigMap", Kind_KIND_CONFIG_MAP},
	{"v1", "Secret", Kind_KIND_SECRET},
	{"batch/v1", "Job", Kind_KIND_JOB},
	{"batch/v1", "CronJob", Kind_KIND_CRON_JOB},
	{"apps/v1", "DaemonSet", Kind_KIND_DAEMON_SET},
	{"apps/v1", "StatefulSet", Kind_KIND_STATEFUL_SET},
	{"coordination.k8s.io/v1", "Lease", Kind_KIND_LEASE},
	{"v1", "ReplicationController", Kind_KIND_REPLICATION_CONTROLLER},
}

// KubernetesAPIVersions are the Kubernetes apiVersions served beside
// skiff/v1.
func KubernetesAPIVersions() []string {
	return []string{"v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "coordination.k8s.io/v1"}
}

// KubernetesTypes lists every Kubernetes apiVersion and kind skiff serves.
func KubernetesTypes() []KubernetesType {
	return append([]KubernetesType(nil), kubernetesTypes...)
}

// KubernetesTypeOf is the Kubernetes apiVersion and kind that skiff's kind
// k is printed as when it came from kubectl's way of making it (the first
// of kubernetesTypes that k holds).
func KubernetesTypeOf(k Kind) (KubernetesType, bool) {
	for _, t := range kubernetesTypes {
		if t.HeldBy == k {
			return t, true
		}
	}
	return KubernetesType{}, false
}

// LookupKubernetesType finds a served Kubernetes apiVersion and kind.
func LookupKubernetesType(apiVersion, kind string) (KubernetesType, bool) {
	for _, t := range kubernetesTypes {
		if t.APIVersion == apiVersion && t.Kind == kind {
			return t, true
		}
	}
	return KubernetesType{}, false
}
