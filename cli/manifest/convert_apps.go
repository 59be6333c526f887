package manifest

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// DaemonSets and StatefulSets convert their pod template as any pod spec;
// a StatefulSet's volumeClaimTemplates are claims, each converted to a
// skiff Volume as a PersistentVolumeClaim is.

func daemonSetToSkiff(o map[string]any) error {
	return podSpecToSkiff(child(child(child(o, "spec"), "template"), "spec"), "spec.template.spec")
}

// daemonSetFromSkiff also prints a count maxSurge or maxUnavailable as a
// number, as Kubernetes' IntOrString does.
func daemonSetFromSkiff(o map[string]any) {
	podSpecFromSkiff(child(child(child(o, "spec"), "template"), "spec"))
	ru, _ := child(child(o, "spec"), "updateStrategy")["rollingUpdate"].(map[string]any)
	numbersAsNumbers(ru, "maxSurge", "maxUnavailable")
}

func statefulSetToSkiff(o map[string]any) error {
	spec := child(o, "spec")
	if err := podSpecToSkiff(child(child(spec, "template"), "spec"), "spec.template.spec"); err != nil {
		return err
	}
	for i, t := range list(spec, "volumeClaimTemplates") {
		claim, ok := t.(map[string]any)
		if !ok {
			continue
		}
		path := fmt.Sprintf("spec.volumeClaimTemplates[%d]", i)
		// A template may say what it is; it can only be a claim.
		if v, ok := claim["apiVersion"]; ok && v != "v1" {
			return fmt.Errorf("%s.apiVersion: a claim template is v1, not %s", path, quoteAny(v))
		}
		if k, ok := claim["kind"]; ok && k != "PersistentVolumeClaim" {
			return fmt.Errorf("%s.kind: a claim template is a PersistentVolumeClaim, not %s", path, quoteAny(k))
		}
		delete(claim, "apiVersion")
		delete(claim, "kind")
		delete(claim, "status")
		if err := claimToSkiff(claim); err != nil {
			return fmt.Errorf("%s.%w", path, err)
		}
	}
	return nil
}

func statefulSetFromSkiff(o map[string]any) {
	spec := child(o, "spec")
	podSpecFromSkiff(child(child(spec, "template"), "spec"))
	for _, t := range list(spec, "volumeClaimTemplates") {
		if claim, ok := t.(map[string]any); ok {
			delete(claim, "status")
			claimFromSkiff(claim)
		}
	}
	// Kubernetes keeps the current revision's template in a
	// ControllerRevision, not in the status.
	if st, ok := o["status"].(map[string]any); ok {
		delete(st, "currentTemplate")
	}
	ru, _ := child(spec, "updateStrategy")["rollingUpdate"].(map[string]any)
	numbersAsNumbers(ru, "maxUnavailable")
}

// numbersAsNumbers prints IntOrString fields that hold a count as
// numbers.
func numbersAsNumbers(m map[string]any, keys ...string) {
	for _, k := range keys {
		if s, ok := m[k].(string); ok {
			if n, err := strconv.Atoi(s); err == nil && strconv.Itoa(n) == s {
				m[k] = json.Number(s)
			}
		}
	}
}
