package manifest

// A CronJob's job template holds a pod spec, converted as any other; the
// Jobs in its status.active are Kubernetes ObjectReferences, which name
// their apiVersion.

func cronJobPodSpec(o map[string]any) map[string]any {
	return child(child(child(child(child(o, "spec"), "jobTemplate"), "spec"), "template"), "spec")
}

func cronJobToSkiff(o map[string]any) error {
	if st, ok := o["status"].(map[string]any); ok {
		for _, r := range list(st, "active") {
			if ref, ok := r.(map[string]any); ok {
				delete(ref, "apiVersion")
				delete(ref, "resourceVersion")
			}
		}
	}
	return podSpecToSkiff(cronJobPodSpec(o), "spec.jobTemplate.spec.template.spec")
}

func cronJobFromSkiff(o map[string]any) {
	podSpecFromSkiff(cronJobPodSpec(o))
	if st, ok := o["status"].(map[string]any); ok {
		for _, r := range list(st, "active") {
			if ref, ok := r.(map[string]any); ok {
				ref["apiVersion"] = "batch/v1"
			}
		}
	}
}
