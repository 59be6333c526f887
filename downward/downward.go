package downward

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
	"github.com/skiff-sh/skiff/quantity"
)

// Env holds what a pod's fields do not: where it runs.
type Env struct {
	PodIP, HostIP string
	// Allocatable is the node's ("cpu", "memory"): a container without a
	// limit sees it as its limit, as in Kubernetes.
	Allocatable map[string]string
}

// DefaultServiceAccount is what spec.serviceAccountName reads: skiff has
// no service accounts, and a Kubernetes pod that names none gets this one.
const DefaultServiceAccount = "default"

// EnvFieldPaths are the fields an env variable may read; the labels and
// annotations take a key: metadata.labels['k'].
var EnvFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"metadata.labels['…']", "metadata.annotations['…']",
	"spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

// VolumeFieldPaths are the fields a downwardAPI volume file may hold.
var VolumeFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"metadata.labels", "metadata.annotations",
	"metadata.labels['…']", "metadata.annotations['…']",
}

// Resources a resourceFieldRef may name.
var Resources = []string{"limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}

// SplitSubscript splits "metadata.labels['k']" into "metadata.labels" and
// "k"; ok is false for a path without a subscript.
func SplitSubscript(path string) (base, key string, ok bool) {
	open := strings.Index(path, "['")
	if open < 0 || !strings.HasSuffix(path, "']") {
		return path, "", false
	}
	return path[:open], path[open+2 : len(path)-2], true
}

// CheckFieldPath says whether path is one of allowed (as EnvFieldPaths or
// VolumeFieldPaths list them), with an error naming the valid ones.
func CheckFieldPath(path string, allowed []string) error {
	probe := path
	if base, key, ok := SplitSubscript(path); ok {
		if key == "" {
			return fmt.Errorf("%q: the key in [''] is empty", path)
		}
		probe = base + "['…']"
	}
	for _, a := range allowed {
		if a == probe {
			return nil
		}
	}
	return fmt.Errorf("%q is not supported; supported: %s", path, strings.Join(allowed, ", "))
}

// FieldValue is the value of a pod field as Kubernetes renders it: a
// missing label or annotation is "", the whole label or annotation map is
// key="value" lines sorted by key.
func FieldValue(pod *skiffv1.Pod, path string, env Env) (string, error) {
	m := pod.GetMetadata()
	if base, key, ok := SplitSubscript(path); ok {
		switch base {
		case "metadata.labels":
			return m.GetLabels()[key], nil
		case "metadata.annotations":
			return m.GetAnnotations()[key], nil
		}
		return "", fmt.Errorf("unsupported fieldPath %q", path)
	}
	switch path {
	case "metadata.name":
		return m.GetName(), nil
	case "metadata.namespace":
		return m.GetNamespace(), nil
	case "metadata.uid":
		return m.GetUid(), nil
	case "metadata.labels":
		return FormatMap(m.GetLabels()), nil
	case "metadata.annotations":
		return FormatMap(m.GetAnnotations()), nil
	case "spec.nodeName":
		return pod.GetSpec().GetNodeName(), nil
	case "spec.serviceAccountName":
		return DefaultServiceAccount, nil
	case "status.podIP", "status.podIPs":
		return env.PodIP, nil
	case "status.hostIP", "status.hostIPs":
		return env.HostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// FormatMap renders labels or annotations as a downwardAPI file does:
// key="value" lines (the value quoted as Go does), sorted, no newline at
// the end.
func FormatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + strconv.Quote(m[k])
	}
	return strings.Join(lines, "\n")
}

// ResourceValue is a container's resource divided by divisor (default 1)
// and rounded up, as Kubernetes does: cpu in units of the divisor's
// millicores, memory in units of its bytes. A container without a limit
// sees the node's allocatable; one without a request sees its limit if it
// has one (Kubernetes' defaulting), else 0.
func ResourceValue(pod *skiffv1.Pod, container, resource, divisor string, env Env) (string, error) {
	var c *skiffv1.Container
	for _, x := range pod.GetSpec().GetContainers() {
		if x.Name == container {
			c = x
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef: no container %q in the pod", container)
	}
	kind, name, ok := strings.Cut(resource, ".")
	if !ok || (kind != "limits" && kind != "requests") || (name != "cpu" && name != "memory") {
		return "", fmt.Errorf("resourceFieldRef: unsupported resource %q; supported: %s", resource, strings.Join(Resources, ", "))
	}
	d := quantity.FromInt(1)
	if divisor != "" {
		var err error
		if d, err = quantity.Parse(divisor); err != nil {
			return "", fmt.Errorf("resourceFieldRef: divisor %q: %w", divisor, err)
		}
		if d.Sign() <= 0 {
			return "", fmt.Errorf("resourceFieldRef: divisor %q must be positive", divisor)
		}
	}
	limit, hasLimit := c.GetResources().GetLimits()[name]
	if !hasLimit {
		limit = env.Allocatable[name]
	}
	raw := limit
	if kind == "requests" {
		raw = "0"
		if r, ok := c.GetResources().GetRequests()[name]; ok {
			raw = r
		} else if hasLimit {
			raw = limit
		}
	}
	if raw == "" {
		return "", fmt.Errorf("resourceFieldRef: %s of container %q is unknown on this node", resource, container)
	}
	q, err := quantity.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("resourceFieldRef: %s %q: %w", resource, raw, err)
	}
	// cpu in millicores, memory in whole bytes, each divided and rounded
	// up as Kubernetes does.
	n, per := q.MilliValue(), d.MilliValue()
	if name == "memory" {
		n, per = q.Value(), d.Value()
	}
	if per <= 0 {
		return "", fmt.Errorf("resourceFieldRef: divisor %q is below one unit of %s", divisor, name)
	}
	return strconv.FormatInt(ceilDiv(n, per), 10), nil
}

func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a > 0) == (b > 0) {
		q++
	}
	return q
}
