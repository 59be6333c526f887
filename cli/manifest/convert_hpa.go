package manifest

import (
	"errors"
	"fmt"
)

// The HorizontalPodAutoscaler (autoscaling/v1 and v2) is skiff's
// Autoscaler: these convert between the two.

// scaleTarget turns scaleTargetRef into skiff's target (the name) and
// targetKind (ReplicaSet or Deployment), set on out.
func scaleTarget(spec, out map[string]any) error {
	ref, ok := spec["scaleTargetRef"].(map[string]any)
	if !ok {
		return errors.New("spec.scaleTargetRef: required: the ReplicaSet or Deployment to scale")
	}
	for k := range ref {
		if k != "apiVersion" && k != "kind" && k != "name" {
			return unknownField(k, "spec.scaleTargetRef", []string{"apiVersion", "kind", "name"})
		}
	}
	kind := ref["kind"]
	if kind != "ReplicaSet" && kind != "Deployment" {
		return fmt.Errorf("spec.scaleTargetRef.kind: skiff scales a ReplicaSet or a Deployment; scaling a %v is not supported by skiff yet", kind)
	}
	if v, ok := ref["apiVersion"]; ok && v != "apps/v1" {
		return fmt.Errorf("spec.scaleTargetRef.apiVersion: a %v is apps/v1, not %s", kind, quoteAny(v))
	}
	out["target"] = ref["name"]
	if kind == "Deployment" {
		out["targetKind"] = kind
	}
	return nil
}

// hpaToSkiff converts what both HorizontalPodAutoscaler versions share
// (the target, the bounds) and hands every other field of spec to field,
// which converts it into out and says whether it knows it.
func hpaToSkiff(o map[string]any, known []string, field func(k string, v any, out map[string]any) bool) error {
	spec := child(o, "spec")
	out := map[string]any{}
	if err := scaleTarget(spec, out); err != nil {
		return err
	}
	for k, v := range spec {
		switch {
		case k == "scaleTargetRef":
		case k == "minReplicas" || k == "maxReplicas":
			out[k] = v
		case !field(k, v, out):
			return unknownField(k, "spec", append([]string{"scaleTargetRef", "minReplicas", "maxReplicas"}, known...))
		}
	}
	o["spec"] = out
	return nil
}

func hpaV1ToSkiff(o map[string]any) error {
	return hpaToSkiff(o, []string{"targetCPUUtilizationPercentage"}, func(k string, v any, out map[string]any) bool {
		if k != "targetCPUUtilizationPercentage" {
			return false
		}
		out["targetCpuUtilizationPercent"] = v
		return true
	})
}

// hpaCommonFromSkiff is what both HorizontalPodAutoscaler versions print
// alike: the target, the bounds and the status counters.
func hpaCommonFromSkiff(o map[string]any) (spec, out, st, stOut map[string]any) {
	spec = child(o, "spec")
	kind := spec["targetKind"]
	if kind == nil {
		kind = "ReplicaSet"
	}
	out = map[string]any{"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": kind, "name": spec["target"]}}
	setIf(out, "minReplicas", spec["minReplicas"])
	setIf(out, "maxReplicas", spec["maxReplicas"])
	o["spec"] = out
	st, _ = o["status"].(map[string]any)
	stOut = map[string]any{}
	for _, k := range []string{"currentReplicas", "desiredReplicas", "lastScaleTime", "observedGeneration"} {
		setIf(stOut, k, st[k])
	}
	if st != nil {
		o["status"] = stOut
	}
	return spec, out, st, stOut
}

func hpaV1FromSkiff(o map[string]any) {
	spec, out, st, stOut := hpaCommonFromSkiff(o)
	setIf(out, "targetCPUUtilizationPercentage", spec["targetCpuUtilizationPercent"])
	setIf(stOut, "currentCPUUtilizationPercentage", st["currentCpuUtilizationPercent"])
}

// hpaV2ToSkiff: skiff's Autoscaler has autoscaling/v2's metrics and
// behavior windows under the same names; what it lacks of them the
// unsupported list and validation refuse.
func hpaV2ToSkiff(o map[string]any) error {
	return hpaToSkiff(o, []string{"metrics", "behavior"}, func(k string, v any, out map[string]any) bool {
		switch k {
		case "behavior":
			out[k] = v
		case "metrics":
			// One cpu Utilization metric is the Autoscaler's simple form,
			// which is also what no metrics default to: store it so, and
			// both print back the same.
			if pct, ok := onlyCPUUtilization(v); ok {
				out["targetCpuUtilizationPercent"] = pct
			} else {
				out[k] = v
			}
		default:
			return false
		}
		return true
	})
}

func onlyCPUUtilization(v any) (any, bool) {
	metrics, _ := v.([]any)
	if len(metrics) != 1 {
		return nil, false
	}
	m, _ := metrics[0].(map[string]any)
	res, _ := m["resource"].(map[string]any)
	target, _ := res["target"].(map[string]any)
	if len(m) != 2 || m["type"] != "Resource" || len(res) != 2 || res["name"] != "cpu" ||
		len(target) != 2 || target["type"] != "Utilization" || target["averageUtilization"] == nil {
		return nil, false
	}
	return target["averageUtilization"], true
}

func hpaV2FromSkiff(o map[string]any) {
	spec, out, st, stOut := hpaCommonFromSkiff(o)
	setIf(out, "metrics", spec["metrics"])
	setIf(out, "behavior", spec["behavior"])
	if pct, ok := spec["targetCpuUtilizationPercent"]; ok && out["metrics"] == nil {
		out["metrics"] = []any{cpuMetric("target", map[string]any{"type": "Utilization", "averageUtilization": pct})}
	}
	if pct, ok := st["currentCpuUtilizationPercent"]; ok {
		stOut["currentMetrics"] = []any{cpuMetric("current", map[string]any{"averageUtilization": pct})}
	}
	setIf(stOut, "conditions", st["conditions"])
}

func cpuMetric(key string, value map[string]any) map[string]any {
	return map[string]any{"type": "Resource", "resource": map[string]any{"name": "cpu", key: value}}
}
