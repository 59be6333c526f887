package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A Kubernetes manifest is converted to skiff's schema at the edge, here,
// as kube-apiserver converts versioned objects to its internal ones: the
// fields skiff shares with Kubernetes already have Kubernetes' names, so a
// conversion only moves what differs. Everything after it (the schema walk,
// validation, the API) knows one schema. Conversions work on the JSON tree
// of the object without apiVersion and kind; toSkiff may refuse what skiff
// cannot hold, fromSkiff is its inverse for what skiff prints.
type conversion struct {
	toSkiff   func(obj map[string]any) error
	fromSkiff func(obj map[string]any)
}

// conversionFor is the conversion of a Kubernetes kind, with what every
// kind shares: owner references name their owner's apiVersion in
// Kubernetes, derived from its kind in skiff.
func conversionFor(apiVersion, kind string) conversion {
	c := kindConversion(apiVersion, kind)
	return conversion{
		toSkiff: func(o map[string]any) error {
			if err := ownerRefsToSkiff(child(o, "metadata")); err != nil {
				return err
			}
			return c.toSkiff(o)
		},
		fromSkiff: func(o map[string]any) {
			ownerRefsFromSkiff(child(o, "metadata"))
			c.fromSkiff(o)
		},
	}
}

// ownerRefsToSkiff drops each owner reference's apiVersion, once it is
// the one its kind is served as.
func ownerRefsToSkiff(meta map[string]any) error {
	for i, r := range list(meta, "ownerReferences") {
		ref, _ := r.(map[string]any)
		v, ok := ref["apiVersion"]
		if !ok {
			continue
		}
		kind, _ := ref["kind"].(string)
		if want := ownerAPIVersion(kind); v != want {
			return fmt.Errorf("metadata.ownerReferences[%d].apiVersion: a %s here is %q, not %s", i, kind, want, quoteAny(v))
		}
		delete(ref, "apiVersion")
	}
	return nil
}

func ownerRefsFromSkiff(meta map[string]any) {
	for _, r := range list(meta, "ownerReferences") {
		ref, _ := r.(map[string]any)
		kind, _ := ref["kind"].(string)
		if v := ownerAPIVersion(kind); v != "" && ref != nil {
			ref["apiVersion"] = v
		}
	}
}

// ownerAPIVersion is the Kubernetes apiVersion of an owner's kind: the
// first one it is served as.
func ownerAPIVersion(kind string) string {
	for _, t := range skiffv1.KubernetesTypes() {
		if t.Kind == kind {
			return t.APIVersion
		}
	}
	return ""
}

// kindConversion is what is particular to a kind; both
// HorizontalPodAutoscaler versions are told apart by apiVersion.
func kindConversion(apiVersion, kind string) conversion {
	switch kind {
	case "Pod":
		return conversion{
			toSkiff:   func(o map[string]any) error { return podSpecToSkiff(child(o, "spec"), "spec") },
			fromSkiff: func(o map[string]any) { podSpecFromSkiff(child(o, "spec")) },
		}
	case "ReplicaSet":
		return conversion{
			toSkiff: func(o map[string]any) error {
				// skiff/v1 defaults it from the template's labels; apps/v1
				// asks for it, as Kubernetes does.
				if child(o, "spec")["selector"] == nil {
					return errors.New("spec.selector: required in apps/v1 (matchLabels of the template's labels)")
				}
				return podSpecToSkiff(child(child(child(o, "spec"), "template"), "spec"), "spec.template.spec")
			},
			fromSkiff: func(o map[string]any) { podSpecFromSkiff(child(child(child(o, "spec"), "template"), "spec")) },
		}
	case "Deployment":
		return conversion{toSkiff: deploymentToSkiff, fromSkiff: deploymentFromSkiff}
	case "Job", "ReplicationController":
		// A ReplicationController's selector is a map of labels in both
		// schemas, defaulted from the template's labels when left out.
		return conversion{
			toSkiff: func(o map[string]any) error {
				return podSpecToSkiff(child(child(child(o, "spec"), "template"), "spec"), "spec.template.spec")
			},
			fromSkiff: func(o map[string]any) { podSpecFromSkiff(child(child(child(o, "spec"), "template"), "spec")) },
		}
	case "CronJob":
		return conversion{toSkiff: cronJobToSkiff, fromSkiff: cronJobFromSkiff}
	case "DaemonSet":
		return conversion{toSkiff: daemonSetToSkiff, fromSkiff: daemonSetFromSkiff}
	case "StatefulSet":
		return conversion{toSkiff: statefulSetToSkiff, fromSkiff: statefulSetFromSkiff}
	case "Service":
		return conversion{toSkiff: noConversion, fromSkiff: serviceFromSkiff}
	case "Event":
		return conversion{toSkiff: eventToSkiff, fromSkiff: eventFromSkiff}
	case "Endpoints":
		return conversion{toSkiff: endpointsToSkiff, fromSkiff: endpointsFromSkiff}
	case "PersistentVolumeClaim":
		return conversion{toSkiff: claimToSkiff, fromSkiff: claimFromSkiff}
	case "PersistentVolume":
		return conversion{toSkiff: persistentVolumeToSkiff, fromSkiff: persistentVolumeFromSkiff}
	case "HorizontalPodAutoscaler":
		if apiVersion == "autoscaling/v1" {
			return conversion{toSkiff: hpaV1ToSkiff, fromSkiff: hpaV1FromSkiff}
		}
		return conversion{toSkiff: hpaV2ToSkiff, fromSkiff: hpaV2FromSkiff}
	}
	return conversion{toSkiff: noConversion, fromSkiff: func(map[string]any) {}}
}

func noConversion(map[string]any) error { return nil }

// podSpecToSkiff turns `persistentVolumeClaim: {claimName}` volumes into
// skiff's `volume: {name}`: a claim is a skiff Volume of that name.
func podSpecToSkiff(spec map[string]any, path string) error {
	for i, v := range list(spec, "volumes") {
		vol, ok := v.(map[string]any)
		if !ok {
			continue
		}
		p := fmt.Sprintf("%s.volumes[%d]", path, i)
		if _, ok := vol["volume"]; ok {
			return fmt.Errorf("unknown field \"volume\" in %s: a Kubernetes manifest names its claim with persistentVolumeClaim: {claimName: …}", p)
		}
		pvc, ok := vol["persistentVolumeClaim"].(map[string]any)
		if !ok {
			continue
		}
		delete(vol, "persistentVolumeClaim")
		out := map[string]any{}
		for k, e := range pvc {
			switch k {
			case "claimName":
				out["name"] = e
			case "readOnly":
				out["readOnly"] = e
			default:
				return unknownField(k, p+".persistentVolumeClaim", []string{"claimName", "readOnly"})
			}
		}
		vol["volume"] = out
	}
	return nil
}

func podSpecFromSkiff(spec map[string]any) {
	for _, v := range list(spec, "volumes") {
		vol, _ := v.(map[string]any)
		ref, ok := vol["volume"].(map[string]any)
		if !ok {
			continue
		}
		delete(vol, "volume")
		out := map[string]any{"claimName": ref["name"]}
		if ro, ok := ref["readOnly"]; ok {
			out["readOnly"] = ro
		}
		vol["persistentVolumeClaim"] = out
	}
}

// A Deployment's conditions have Kubernetes' lastUpdateTime where skiff's
// have lastHeartbeatTime (when the rollout last made progress); its pod
// template converts as any pod spec.
func deploymentToSkiff(o map[string]any) error {
	renameConditionField(o, "lastUpdateTime", "lastHeartbeatTime")
	return podSpecToSkiff(child(child(child(o, "spec"), "template"), "spec"), "spec.template.spec")
}

// deploymentFromSkiff also prints a count maxSurge or maxUnavailable as
// a number, as Kubernetes' IntOrString does.
func deploymentFromSkiff(o map[string]any) {
	renameConditionField(o, "lastHeartbeatTime", "lastUpdateTime")
	podSpecFromSkiff(child(child(child(o, "spec"), "template"), "spec"))
	ru, _ := child(child(o, "spec"), "strategy")["rollingUpdate"].(map[string]any)
	for _, k := range []string{"maxSurge", "maxUnavailable"} {
		if s, ok := ru[k].(string); ok {
			if n, err := strconv.Atoi(s); err == nil && strconv.Itoa(n) == s {
				ru[k] = json.Number(s)
			}
		}
	}
}

func renameConditionField(o map[string]any, from, to string) {
	st, _ := o["status"].(map[string]any)
	for _, c := range list(st, "conditions") {
		if cond, ok := c.(map[string]any); ok {
			if v, ok := cond[from]; ok {
				delete(cond, from)
				cond[to] = v
			}
		}
	}
}

// serviceFromSkiff prints a numeric targetPort as a number, as
// Kubernetes' IntOrString does.
func serviceFromSkiff(o map[string]any) {
	for _, p := range list(child(o, "spec"), "ports") {
		port, _ := p.(map[string]any)
		if s, ok := port["targetPort"].(string); ok {
			// Only a number that prints back the same ("80", not "080").
			if n, err := strconv.Atoi(s); err == nil && strconv.Itoa(n) == s {
				port["targetPort"] = json.Number(s)
			}
		}
	}
}

// An event's source is a string in skiff and {component, host} in
// Kubernetes.
func eventToSkiff(o map[string]any) error {
	src, ok := o["source"].(map[string]any)
	if !ok {
		return nil
	}
	for k := range src {
		if k != "component" && k != "host" {
			return unknownField(k, "source", []string{"component", "host"})
		}
	}
	o["source"] = src["component"]
	if h, _ := src["host"].(string); h != "" {
		o["source"] = fmt.Sprintf("%v/%s", src["component"], h)
	}
	return nil
}

func eventFromSkiff(o map[string]any) {
	if s, ok := o["source"].(string); ok {
		o["source"] = map[string]any{"component": s}
	}
}

// accessMode maps Kubernetes' accessModes list onto skiff's one mode.
func accessMode(spec map[string]any) (string, error) {
	modes := list(spec, "accessModes")
	switch {
	case len(modes) == 0:
		return "", nil
	case len(modes) > 1:
		return "", errors.New("spec.accessModes: a skiff volume has one access mode; give ReadWriteOnce or ReadWriteMany")
	}
	m, _ := modes[0].(string)
	switch m {
	case "ReadWriteOnce", "ReadWriteMany":
		return m, nil
	case "ReadOnlyMany", "ReadWriteOncePod":
		return "", fmt.Errorf("spec.accessModes[0]: %s is not supported by skiff yet; give ReadWriteOnce or ReadWriteMany", m)
	}
	return "", fmt.Errorf("spec.accessModes[0]: %s is not an access mode; give ReadWriteOnce or ReadWriteMany", quoteAny(modes[0]))
}

// volumeSpecFrom starts a skiff volume's spec from a claim's or
// PersistentVolume's: their access mode.
func volumeSpecFrom(spec map[string]any) (map[string]any, error) {
	out := map[string]any{}
	mode, err := accessMode(spec)
	if err != nil {
		return nil, err
	}
	setIf(out, "accessMode", mode)
	return out, nil
}

// filesystemOnly refuses a volumeMode but Filesystem, what skiff's volumes
// are.
func filesystemOnly(mode any) error {
	if mode != "Filesystem" {
		return fmt.Errorf("spec.volumeMode: %s is not supported by skiff yet", quoteAny(mode))
	}
	return nil
}

// accessModesOf starts a claim's or PersistentVolume's spec from a skiff
// volume's: its one access mode as Kubernetes' list.
func accessModesOf(spec map[string]any) map[string]any {
	out := map[string]any{}
	if m, ok := spec["accessMode"]; ok {
		out["accessModes"] = []any{m}
	}
	return out
}

// storageQuantity takes the one resource a volume has, storage, out of a
// map of quantities (capacity, resources.requests).
func storageQuantity(m map[string]any, path string) (any, error) {
	for k := range m {
		if k != "storage" {
			return nil, fmt.Errorf("%s.%s: a volume has only storage", path, k)
		}
	}
	return m["storage"], nil
}

// selectedNode is the annotation Kubernetes puts on a claim whose volume
// waits for its first consumer: the node it was placed on. skiff pins a
// local volume the same way, in spec.local.nodeName.
const selectedNode = "volume.kubernetes.io/selected-node"

// claimToSkiff makes a claim a skiff Volume of the same name. A claim
// that names a storage class (even "") or a volume is bound to a
// PersistentVolume by the binder; one that names neither is local storage
// on the node of its first pod (ReadWriteMany allowed), as if skiff's
// default class provisioned it.
func claimToSkiff(o map[string]any) error {
	spec := child(o, "spec")
	out, err := volumeSpecFrom(spec)
	if err != nil {
		return err
	}
	res := child(spec, "resources")
	for k := range res {
		if k != "requests" && k != "limits" {
			return unknownField(k, "spec.resources", []string{"requests"})
		}
	}
	size, err := storageQuantity(child(res, "requests"), "spec.resources.requests")
	if err != nil {
		return err
	}
	setIf(out, "capacity", size)
	class, hasClass := spec["storageClassName"]
	if hasClass && class != nil {
		out["storageClassName"] = class
	}
	setIf(out, "volumeName", spec["volumeName"])
	if _, named := out["volumeName"]; !named && (!hasClass || class == nil) {
		local := map[string]any{}
		if ann := child(child(o, "metadata"), "annotations"); ann[selectedNode] != nil {
			local["nodeName"] = ann[selectedNode]
			delete(ann, selectedNode)
		}
		out["local"] = local
	}
	for k := range spec {
		switch k {
		case "accessModes", "resources", "storageClassName", "volumeName":
		case "volumeMode":
			if err := filesystemOnly(spec[k]); err != nil {
				return err
			}
		default:
			return unknownField(k, "spec", []string{"accessModes", "resources", "storageClassName", "volumeMode", "volumeName"})
		}
	}
	o["spec"] = out
	return nil
}

func claimFromSkiff(o map[string]any) {
	spec := child(o, "spec")
	out := accessModesOf(spec)
	if c, ok := spec["capacity"]; ok {
		out["resources"] = map[string]any{"requests": map[string]any{"storage": c}}
	}
	if c, ok := spec["storageClassName"]; ok {
		out["storageClassName"] = c
	}
	setIf(out, "volumeName", spec["volumeName"])
	out["volumeMode"] = "Filesystem"
	if n, _ := child(spec, "local")["nodeName"].(string); n != "" {
		meta := child(o, "metadata")
		ann := child(meta, "annotations")
		ann[selectedNode] = n
		meta["annotations"] = ann
	}
	o["spec"] = out
	if st, ok := o["status"].(map[string]any); ok {
		phase := skiffv1.VolumePending
		if p, _ := st["phase"].(string); p == skiffv1.VolumeBound || p == skiffv1.VolumeLost {
			phase = p
		}
		res := map[string]any{"phase": phase}
		if phase == skiffv1.VolumeBound {
			if m, ok := st["accessMode"]; ok {
				res["accessModes"] = []any{m}
			} else if m, ok := spec["accessMode"]; ok {
				res["accessModes"] = []any{m}
			}
			if c, ok := st["capacity"]; ok {
				res["capacity"] = map[string]any{"storage": c}
			} else if c, ok := spec["capacity"]; ok {
				res["capacity"] = map[string]any{"storage": c}
			}
		}
		o["status"] = res
	}
}

// A PersistentVolume has Kubernetes' schema in skiff; only claimRef's
// apiVersion, always v1, is left out.
func persistentVolumeToSkiff(o map[string]any) error {
	ref, ok := child(o, "spec")["claimRef"].(map[string]any)
	if !ok {
		return nil
	}
	if v, ok := ref["apiVersion"]; ok {
		if v != "v1" {
			return fmt.Errorf("spec.claimRef.apiVersion: a claim is v1, not %s", quoteAny(v))
		}
		delete(ref, "apiVersion")
	}
	return nil
}

func persistentVolumeFromSkiff(o map[string]any) {
	if ref, ok := child(o, "spec")["claimRef"].(map[string]any); ok {
		ref["apiVersion"] = "v1"
	}
}

// child is m[key] as a mapping; an empty one when absent or not a mapping
// (the schema walk reports wrong types later, with their path).
func child(m map[string]any, key string) map[string]any {
	c, _ := m[key].(map[string]any)
	if c == nil {
		return map[string]any{}
	}
	return c
}

func list(m map[string]any, key string) []any {
	l, _ := m[key].([]any)
	return l
}

// setIf sets m[key] when v is neither nil nor the empty string.
func setIf(m map[string]any, key string, v any) {
	if v != nil && v != "" {
		m[key] = v
	}
}
