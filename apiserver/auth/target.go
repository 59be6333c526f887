package auth

import (
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Target is what a request acts on, read from the request message.
type Target struct {
	Kind      skiffv1.Kind
	Namespace string
	Name      string
	// Node is the node a Bind assigns to, or a usage report is for.
	Node string
	// Force is a Delete's force flag.
	Force bool
	// FieldSelector is a List's or Watch's field selector.
	FieldSelector string
	// Object is the object a Create or Update carries, when it does.
	Object skiffv1.Resource
}

// TargetOf reads the target of a request. Unknown messages give an empty
// target; so does a nil req.
func TargetOf(req any) Target {
	switch r := req.(type) {
	case *skiffv1.CreateRequest:
		return objectTarget(r.GetObject())
	case *skiffv1.UpdateRequest:
		return objectTarget(r.GetObject())
	case *skiffv1.GetRequest:
		return Target{Kind: r.GetKind(), Namespace: r.GetNamespace(), Name: r.GetName()}
	case *skiffv1.ListRequest:
		return Target{Kind: r.GetKind(), Namespace: r.GetNamespace(), FieldSelector: r.GetFieldSelector()}
	case *skiffv1.WatchRequest:
		return Target{Kind: r.GetKind(), Namespace: r.GetNamespace(), FieldSelector: r.GetFieldSelector()}
	case *skiffv1.DeleteRequest:
		return Target{Kind: r.GetKind(), Namespace: r.GetNamespace(), Name: r.GetName(), Force: r.GetForce()}
	case *skiffv1.BindRequest:
		return Target{Kind: skiffv1.Kind_KIND_POD, Namespace: r.GetNamespace(), Name: r.GetName(), Node: r.GetNodeName()}
	case *skiffv1.UsageReport:
		return Target{Node: r.GetNode()}
	case *skiffv1.UsageQuery:
		return Target{Namespace: r.GetNamespace()}
	case *skiffv1.LogsRequest:
		return Target{Kind: skiffv1.Kind_KIND_POD, Namespace: r.GetNamespace(), Name: r.GetPod()}
	case *skiffv1.ExecInput:
		if s := r.GetStart(); s != nil {
			return Target{Kind: skiffv1.Kind_KIND_POD, Namespace: s.GetNamespace(), Name: s.GetPod()}
		}
		if s := r.GetAttach(); s != nil {
			return Target{Kind: skiffv1.Kind_KIND_POD, Namespace: s.GetNamespace(), Name: s.GetPod()}
		}
	case *skiffv1.PortForwardInput:
		if s := r.GetStart(); s != nil {
			return Target{Kind: skiffv1.Kind_KIND_POD, Namespace: s.GetNamespace(), Name: s.GetPod()}
		}
	}
	return Target{}
}

func objectTarget(o *skiffv1.Object) Target {
	r := o.Unwrap()
	if r == nil {
		return Target{}
	}
	m := r.GetMetadata()
	return Target{Kind: skiffv1.KindOf(r), Namespace: m.GetNamespace(), Name: m.GetName(), Object: r}
}

// Plural is the kind's plural name ("pods"), or "objects" when unknown.
func (t Target) Plural() string {
	if info, ok := skiffv1.Info(t.Kind); ok {
		return info.Plural
	}
	return "objects"
}

// String names the target the way messages do: "pods/default/web",
// "nodes/n1", "pods/default" (a list in a namespace), "pods".
func (t Target) String() string {
	s := t.Plural()
	info, _ := skiffv1.Info(t.Kind)
	if t.Namespace != "" && (info.Namespaced || t.Kind == skiffv1.Kind_KIND_UNSPECIFIED) {
		s += "/" + t.Namespace
	}
	if t.Name != "" {
		s += "/" + t.Name
	}
	return s
}
