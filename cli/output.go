package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
	"sigs.k8s.io/yaml"

	"github.com/skiff-sh/skiff/cli/manifest"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// manifestJSON is an object as a manifest: apiVersion and kind, then the
// object's fields under the proto's JSON names — exactly what apply reads.
func manifestJSON(obj skiffv1.Resource) ([]byte, error) {
	info, _ := skiffv1.Info(skiffv1.KindOf(obj))
	body, err := protojson.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, err
	}
	if fields == nil {
		fields = map[string]json.RawMessage{}
	}
	fields["apiVersion"], _ = json.Marshal(manifest.APIVersion)
	fields["kind"], _ = json.Marshal(info.Name)
	return marshalOrdered(fields, []string{"apiVersion", "kind", "metadata", "spec", "status"})
}

// marshalOrdered writes a JSON object with the named keys first, in that
// order, then the rest sorted: people expect apiVersion and kind on top.
func marshalOrdered(fields map[string]json.RawMessage, first []string) ([]byte, error) {
	var keys []string
	seen := map[string]bool{}
	for _, k := range first {
		if _, ok := fields[k]; ok {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range fields {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	keys = append(keys, rest...)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteByte(':')
		b.Write(fields[k])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// listJSON wraps several objects as `kind: List`, which apply also reads.
func listJSON(objs []skiffv1.Resource) ([]byte, error) {
	items := make([]json.RawMessage, 0, len(objs))
	for _, o := range objs {
		j, err := manifestJSON(o)
		if err != nil {
			return nil, err
		}
		items = append(items, j)
	}
	itemsJSON, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	return marshalOrdered(map[string]json.RawMessage{
		"apiVersion": json.RawMessage(`"` + manifest.APIVersion + `"`),
		"kind":       json.RawMessage(`"List"`),
		"items":      itemsJSON,
	}, []string{"apiVersion", "kind", "items"})
}

// printObjects writes objects as yaml or json; one object alone (asked for
// by name) is printed bare, anything else as a List.
func printObjects(w io.Writer, format string, objs []skiffv1.Resource, single bool) error {
	var j []byte
	var err error
	if single && len(objs) == 1 {
		j, err = manifestJSON(objs[0])
	} else {
		j, err = listJSON(objs)
	}
	if err != nil {
		return err
	}
	return writeFormatted(w, format, j)
}

// writeFormatted writes one JSON document as indented JSON or as YAML.
func writeFormatted(w io.Writer, format string, j []byte) error {
	switch format {
	case "json":
		var b bytes.Buffer
		if err := json.Indent(&b, j, "", "    "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err := w.Write(b.Bytes())
		return err
	case "yaml":
		y, err := yaml.JSONToYAML(j)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	}
	return fmt.Errorf("unknown output format %q", format)
}

// eventTime is when an event last happened, as well as it is known.
func eventTime(e *skiffv1.Event) *timestamppb.Timestamp {
	switch {
	case e.GetLastTimestamp() != nil:
		return e.GetLastTimestamp()
	case e.GetFirstTimestamp() != nil:
		return e.GetFirstTimestamp()
	}
	return e.GetMetadata().GetCreationTimestamp()
}

// sortEvents orders events oldest first, as they happened.
func sortEvents(objs []skiffv1.Resource) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := eventTime(objs[i].(*skiffv1.Event)), eventTime(objs[j].(*skiffv1.Event))
		return a.AsTime().Before(b.AsTime())
	})
}
