package apiserver

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/skiff-sh/skiff/labels"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// fieldGetters are the fields each kind can be selected by, besides
// metadata.name and metadata.namespace.
var fieldGetters = map[skiffv1.Kind]map[string]func(skiffv1.Resource) string{
	skiffv1.Kind_KIND_POD: {
		"spec.nodeName": func(r skiffv1.Resource) string { return r.(*skiffv1.Pod).GetSpec().GetNodeName() },
		"status.phase":  func(r skiffv1.Resource) string { return r.(*skiffv1.Pod).GetStatus().GetPhase() },
		"status.podIP":  func(r skiffv1.Resource) string { return r.(*skiffv1.Pod).GetStatus().GetPodIp() },
	},
	skiffv1.Kind_KIND_NODE: {
		"spec.unschedulable": func(r skiffv1.Resource) string {
			return strconv.FormatBool(r.(*skiffv1.Node).GetSpec().GetUnschedulable())
		},
	},
	skiffv1.Kind_KIND_NAMESPACE: {
		"status.phase": func(r skiffv1.Resource) string { return r.(*skiffv1.Namespace).GetStatus().GetPhase() },
	},
	skiffv1.Kind_KIND_EVENT: {
		"involvedObject.kind":      func(r skiffv1.Resource) string { return r.(*skiffv1.Event).GetInvolvedObject().GetKind() },
		"involvedObject.name":      func(r skiffv1.Resource) string { return r.(*skiffv1.Event).GetInvolvedObject().GetName() },
		"involvedObject.namespace": func(r skiffv1.Resource) string { return r.(*skiffv1.Event).GetInvolvedObject().GetNamespace() },
		"involvedObject.uid":       func(r skiffv1.Resource) string { return r.(*skiffv1.Event).GetInvolvedObject().GetUid() },
		"reason":                   func(r skiffv1.Resource) string { return r.(*skiffv1.Event).GetReason() },
		"type":                     func(r skiffv1.Resource) string { return r.(*skiffv1.Event).GetType() },
	},
}

type fieldRequirement struct {
	get    func(skiffv1.Resource) string
	negate bool
	value  string
}

// predicate decides whether an object belongs to a list or watch.
type predicate func(skiffv1.Resource) bool

// selectorPredicate combines a label and a field selector.
func selectorPredicate(kind skiffv1.Kind, labelSel, fieldSel string) (predicate, error) {
	ls, err := labels.Parse(labelSel)
	if err != nil {
		return nil, invalid("label selector: %v", err)
	}
	fs, err := parseFieldSelector(kind, fieldSel)
	if err != nil {
		return nil, invalid("field selector: %v", err)
	}
	return func(r skiffv1.Resource) bool {
		if !ls.Matches(r.GetMetadata().GetLabels()) {
			return false
		}
		for _, f := range fs {
			if (f.get(r) == f.value) == f.negate {
				return false
			}
		}
		return true
	}, nil
}

func parseFieldSelector(kind skiffv1.Kind, s string) ([]fieldRequirement, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	getters := map[string]func(skiffv1.Resource) string{
		"metadata.name":      func(r skiffv1.Resource) string { return r.GetMetadata().GetName() },
		"metadata.namespace": func(r skiffv1.Resource) string { return r.GetMetadata().GetNamespace() },
	}
	for k, g := range fieldGetters[kind] {
		getters[k] = g
	}
	var out []fieldRequirement
	for _, clause := range strings.Split(s, ",") {
		var field, value string
		negate := false
		switch {
		case strings.Contains(clause, "!="):
			field, value, _ = strings.Cut(clause, "!=")
			negate = true
		case strings.Contains(clause, "=="):
			field, value, _ = strings.Cut(clause, "==")
		case strings.Contains(clause, "="):
			field, value, _ = strings.Cut(clause, "=")
		default:
			return nil, fmt.Errorf("%q: want field=value or field!=value", clause)
		}
		field = strings.TrimSpace(field)
		get, ok := getters[field]
		if !ok {
			var names []string
			for k := range getters {
				names = append(names, k)
			}
			sort.Strings(names)
			info, _ := skiffv1.Info(kind)
			return nil, fmt.Errorf("%q is not a field %s can be selected by; use one of %s", field, info.Plural, strings.Join(names, ", "))
		}
		out = append(out, fieldRequirement{get: get, negate: negate, value: strings.TrimSpace(value)})
	}
	return out, nil
}
