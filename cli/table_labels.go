package cli

import (
	"sort"
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// labelHeader is kubectl's -L header: the key's last part, upper-cased.
func labelHeader(key string) string {
	return strings.ToUpper(key[strings.LastIndex(key, "/")+1:])
}

// labelCells are the -L and --show-labels cells of obj.
func (o tableOpts) labelCells(obj skiffv1.Resource) []string {
	l := obj.GetMetadata().GetLabels()
	var out []string
	for _, k := range o.labelColumns {
		out = append(out, l[k])
	}
	if o.showLabels {
		out = append(out, formatLabels(l))
	}
	return out
}

// formatLabels is k=v,... sorted by key, or <none>.
func formatLabels(l map[string]string) string {
	if len(l) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + l[k]
	}
	return strings.Join(keys, ",")
}
