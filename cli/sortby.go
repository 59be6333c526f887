package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/skiff-sh/skiff/cli/jsonpath"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// parseSortBy reads --sort-by: a JSONPath with or without its braces
// (kubectl takes both); "" sorts nothing.
func parseSortBy(expr string) (*jsonpath.Path, error) {
	if expr == "" {
		return nil, nil
	}
	p, err := jsonpath.ParsePath(expr)
	if err != nil {
		return nil, fmt.Errorf("--sort-by %s: %w", expr, err)
	}
	return p, nil
}

// sortKey is one object's value at the --sort-by path: a number when it
// is one, else its text. Objects without the value sort first.
type sortKey struct {
	present bool
	isNum   bool
	num     float64
	text    string
}

func (a sortKey) compare(b sortKey) int {
	switch {
	case a.present != b.present:
		if a.present {
			return 1
		}
		return -1
	case a.isNum && b.isNum:
		return cmp.Compare(a.num, b.num)
	}
	return strings.Compare(a.text, b.text)
}

// sortObjects orders objs by the value each has at p, stably, as kubectl
// get --sort-by does. A path that finds a map, a list or several values
// in one object is an error: there is nothing to order by.
func sortObjects(objs []skiffv1.Resource, p *jsonpath.Path) error {
	keys := make(map[skiffv1.Resource]sortKey, len(objs))
	for _, o := range objs {
		data, err := objectJSON(o)
		if err != nil {
			return err
		}
		vals, err := p.Find(data)
		if err != nil {
			return fmt.Errorf("--sort-by: %w", err)
		}
		var k sortKey
		switch {
		case len(vals) > 1:
			return fmt.Errorf("--sort-by finds %d values in %s; give a path to one", len(vals), o.GetMetadata().GetName())
		case len(vals) == 1:
			switch v := vals[0].(type) {
			case map[string]any, []any:
				return fmt.Errorf("--sort-by finds an object or a list in %s; give a path to one value", o.GetMetadata().GetName())
			case json.Number:
				f, err := v.Float64()
				k = sortKey{present: true, isNum: err == nil, num: f, text: v.String()}
			default:
				text, err := jsonpath.Format(v)
				if err != nil {
					return err
				}
				k = sortKey{present: true, text: text}
			}
		}
		keys[o] = k
	}
	slices.SortStableFunc(objs, func(a, b skiffv1.Resource) int { return keys[a].compare(keys[b]) })
	return nil
}
