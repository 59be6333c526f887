package manifest

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Encode writes an object as the manifest Decode reads back to the same
// object: as the Kubernetes apiVersion and kind it was applied as, if any,
// else as skiff/v1. 64-bit integers are JSON numbers, as Kubernetes prints
// them (protojson would quote them).
func Encode(obj skiffv1.Resource) ([]byte, error) {
	fields, err := encodeFields(obj)
	if err != nil {
		return nil, err
	}
	return marshalOrdered(fields, []string{"apiVersion", "kind", "metadata", "spec", "status"})
}

// EncodeList writes several objects as a `kind: List`, which Decode also
// reads: of apiVersion v1, as kubectl's, when every item prints as a
// Kubernetes object.
func EncodeList(objs []skiffv1.Resource) ([]byte, error) {
	items := make([]json.RawMessage, 0, len(objs))
	listVersion := "v1"
	for _, o := range objs {
		if o.GetMetadata().GetAppliedAs() == nil {
			listVersion = APIVersion
		}
		j, err := Encode(o)
		if err != nil {
			return nil, err
		}
		items = append(items, j)
	}
	itemsJSON, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	return marshalOrdered(map[string]any{
		"apiVersion": listVersion,
		"kind":       "List",
		"items":      json.RawMessage(itemsJSON),
	}, []string{"apiVersion", "kind", "items"})
}

func encodeFields(obj skiffv1.Resource) (map[string]any, error) {
	body, err := protojson.Marshal(obj)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, err
	}
	if fields == nil {
		fields = map[string]any{}
	}
	int64sAsNumbers(fields, obj.ProtoReflect().Descriptor())
	info, _ := skiffv1.Info(skiffv1.KindOf(obj))
	apiVersion, kind := APIVersion, info.Name
	if meta, ok := fields["metadata"].(map[string]any); ok {
		delete(meta, "appliedAs")
	}
	if a := obj.GetMetadata().GetAppliedAs(); a != nil {
		if t, ok := skiffv1.LookupKubernetesType(a.ApiVersion, a.Kind); ok && t.HeldBy == info.Kind {
			apiVersion, kind = t.APIVersion, t.Kind
			conversionFor(apiVersion, kind).fromSkiff(fields)
		}
	}
	fields["apiVersion"] = apiVersion
	fields["kind"] = kind
	return fields, nil
}

// int64sAsNumbers turns the quoted 64-bit integers of protojson's output
// back into numbers, walking the tree alongside the message it came from.
func int64sAsNumbers(v any, md protoreflect.MessageDescriptor) {
	obj, ok := v.(map[string]any)
	if !ok || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return
	}
	for k, e := range obj {
		fd := md.Fields().ByJSONName(k)
		if fd == nil || fd.IsMap() {
			continue
		}
		if fd.IsList() {
			l, _ := e.([]any)
			for i := range l {
				l[i] = int64AsNumber(l[i], fd)
			}
			continue
		}
		obj[k] = int64AsNumber(e, fd)
	}
}

func int64AsNumber(v any, fd protoreflect.FieldDescriptor) any {
	switch fd.Kind() {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if s, ok := v.(string); ok {
			return json.Number(s)
		}
	case protoreflect.MessageKind:
		int64sAsNumbers(v, fd.Message())
	}
	return v
}

// marshalOrdered writes a JSON object with the named keys first, in that
// order, then the rest sorted: people expect apiVersion and kind on top.
func marshalOrdered(fields map[string]any, first []string) ([]byte, error) {
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
		vj, err := json.Marshal(fields[k])
		if err != nil {
			return nil, err
		}
		b.Write(vj)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
