// Package patch applies kubectl's three kinds of patch to an object's JSON
// form: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes'
// strategic merge patch, which merges the lists Kubernetes gives a merge
// key (containers by name, ports by port number, …) element by element.
package patch

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// Type is a patch's kind, as kubectl's --type names it.
type Type string

const (
	Strategic Type = "strategic"
	Merge     Type = "merge"
	JSON      Type = "json"
)

// Apply returns doc, a JSON object, with patch applied.
func Apply(doc, patch []byte, t Type) ([]byte, error) {
	var target any
	if err := decode(doc, &target); err != nil {
		return nil, fmt.Errorf("patch: the object: %w", err)
	}
	// kubectl takes YAML too; JSON is YAML.
	pj, err := yaml.YAMLToJSON(patch)
	if err != nil {
		return nil, fmt.Errorf("patch: not JSON or YAML: %w", err)
	}
	var p any
	if err := decode(pj, &p); err != nil {
		return nil, fmt.Errorf("patch: not JSON or YAML: %w", err)
	}
	var out any
	switch t {
	case Merge:
		out = mergePatch(target, p)
	case Strategic, "":
		out, err = strategicPatch(target, p, "")
	case JSON:
		out, err = jsonPatch(target, p)
	default:
		return nil, fmt.Errorf("patch: --type %q: use strategic, merge or json", t)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

func decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("more than one JSON value")
	}
	return nil
}

// mergePatch is RFC 7386: objects merge key by key, null removes a key,
// anything else replaces what was there.
func mergePatch(target, p any) any {
	pm, ok := p.(map[string]any)
	if !ok {
		return p
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}
