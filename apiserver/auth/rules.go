package auth

import (
	"github.com/skiff-sh/skiff/pki"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// authorizeScheduler: the scheduler reads everything, binds pods, records
// why a pod is unschedulable (pod status, events), and claims local
// volumes for the node it picked (volume update).
func authorizeScheduler(id pki.Identity, method string, t Target) error {
	switch {
	case isObjectRead(method):
		return nil
	case method == skiffv1.Objects_Bind_FullMethodName:
		return nil
	case method == skiffv1.Objects_UpdateStatus_FullMethodName && t.Kind == skiffv1.Kind_KIND_POD:
		return nil
	case method == skiffv1.Objects_Update_FullMethodName && t.Kind == skiffv1.Kind_KIND_VOLUME:
		return nil
	case method == skiffv1.Objects_Create_FullMethodName && t.Kind == skiffv1.Kind_KIND_EVENT:
		return nil
	case method == skiffv1.Usage_Get_FullMethodName:
		return nil
	}
	return deny(id, method, t, "the scheduler only reads, binds pods, updates pod status and volumes, and records events")
}

// authorizeController: the controllers (replica sets, endpoints, node
// lifecycle, garbage collector, autoscaler) write every kind, read usage,
// but never bind pods — that is the scheduler's decision.
func authorizeController(id pki.Identity, method string, t Target) error {
	switch {
	case method == skiffv1.Objects_Bind_FullMethodName:
		return deny(id, method, t, "binding pods is the scheduler's job")
	case isObjectsMethod(method):
		return nil
	case method == skiffv1.Usage_Get_FullMethodName:
		return nil
	}
	return deny(id, method, t, "the controllers only read and write objects and read usage")
}

// authorizeViewer: a viewer reads every kind but Secrets, usage and pod
// logs, and writes nothing — Kubernetes' "view" role, which leaves
// Secrets out because they hold credentials.
func authorizeViewer(id pki.Identity, method string, t Target) error {
	switch {
	case isObjectRead(method) && t.Kind == skiffv1.Kind_KIND_SECRET:
		return deny(id, method, t, "a viewer may not read Secrets")
	case isObjectRead(method) && t.Kind != skiffv1.Kind_KIND_UNSPECIFIED:
		return nil
	case method == skiffv1.Usage_Get_FullMethodName, method == skiffv1.PodIO_Logs_FullMethodName, method == skiffv1.Servers_List_FullMethodName:
		return nil
	}
	return deny(id, method, t, "a viewer only reads")
}
