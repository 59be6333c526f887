package patch

import (
	"fmt"
	"slices"
)

// mergeKeys are the lists Kubernetes merges element by element, by field
// name, with the field that identifies an element (its patchMergeKey).
// "ports" is a container's (containerPort) or a service's (port).
var mergeKeys = map[string][]string{
	"containers":                {"name"},
	"initContainers":            {"name"},
	"env":                       {"name"},
	"volumes":                   {"name"},
	"volumeMounts":              {"mountPath"},
	"imagePullSecrets":          {"name"},
	"hostAliases":               {"ip"},
	"conditions":                {"type"},
	"ownerReferences":           {"uid"},
	"ports":                     {"containerPort", "port"},
	"topologySpreadConstraints": {"topologyKey"},
	"resourceClaims":            {"name"},
}

// setLists are lists of values Kubernetes merges as sets.
var setLists = map[string]bool{"finalizers": true}

// strategicPatch merges p into target as Kubernetes' strategic merge
// patch does: objects key by key (null removes), lists with a merge key
// element by element ({"$patch": "delete"} in an element removes it,
// {"$patch": "replace"} replaces the whole list), set lists as sets, and
// every other value replaced. field is the key target sits under.
func strategicPatch(target, p any, field string) (any, error) {
	switch pv := p.(type) {
	case map[string]any:
		tm, ok := target.(map[string]any)
		if !ok {
			tm = map[string]any{}
		}
		if d, ok := pv["$patch"]; ok {
			switch d {
			case "replace":
				out := map[string]any{}
				for k, v := range pv {
					if k != "$patch" {
						out[k] = v
					}
				}
				return out, nil
			case "delete":
				return nil, nil
			default:
				return nil, fmt.Errorf("patch: %s: $patch %v: use replace or delete", field, d)
			}
		}
		for k, v := range pv {
			if v == nil {
				delete(tm, k)
				continue
			}
			merged, err := strategicPatch(tm[k], v, k)
			if err != nil {
				return nil, err
			}
			tm[k] = merged
		}
		return tm, nil
	case []any:
		tl, _ := target.([]any)
		if setLists[field] {
			out := slices.Clone(tl)
			for _, v := range pv {
				if !slices.Contains(out, v) {
					out = append(out, v)
				}
			}
			return out, nil
		}
		if keys, ok := mergeKeys[field]; ok {
			return mergeList(tl, pv, field, keys)
		}
		return pv, nil
	}
	return p, nil
}

// mergeList merges patch elements into target by the first of keys they
// carry.
func mergeList(target, p []any, field string, keys []string) ([]any, error) {
	out := slices.Clone(target)
	for _, pe := range p {
		pm, ok := pe.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("patch: %s: an element is not an object", field)
		}
		if pm["$patch"] == "replace" {
			var rest []any
			for _, e := range p {
				if m, ok := e.(map[string]any); !ok || m["$patch"] != "replace" {
					rest = append(rest, e)
				}
			}
			return rest, nil
		}
		key, val, ok := mergeKeyOf(pm, keys)
		if !ok {
			return nil, fmt.Errorf("patch: %s: an element has no %s to merge it by", field, keys[0])
		}
		i := slices.IndexFunc(out, func(e any) bool {
			m, ok := e.(map[string]any)
			return ok && fmt.Sprint(m[key]) == fmt.Sprint(val)
		})
		if pm["$patch"] == "delete" {
			if i >= 0 {
				out = slices.Delete(out, i, i+1)
			}
			continue
		}
		if i < 0 {
			out = append(out, pe)
			continue
		}
		merged, err := strategicPatch(out[i], pe, field)
		if err != nil {
			return nil, err
		}
		out[i] = merged
	}
	return out, nil
}

func mergeKeyOf(m map[string]any, keys []string) (string, any, bool) {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return k, v, true
		}
	}
	return "", nil, false
}
