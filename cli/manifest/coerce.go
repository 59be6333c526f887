package manifest

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// coerceMessage walks a JSON object alongside the message it is meant to
// fill. It returns a tree protojson accepts: unknown fields are refused with
// their path (protojson would only give a byte offset), and scalars YAML
// typed differently from the proto are converted — `cpu: 1` or
// `targetPort: 8080` where the proto has a string, `replicas: "3"` where it
// has an integer.
func coerceMessage(v any, md protoreflect.MessageDescriptor, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		// Well-known types (timestamps) have their own JSON forms, which
		// protojson checks.
		return v, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%sexpected a mapping, got %s", at(path), typeName(v))
	}
	fields := md.Fields()
	out := make(map[string]any, len(obj))
	for _, k := range sortedKeys(obj) {
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByTextName(k)
		}
		if fd == nil {
			valid := jsonNames(md)
			if path == "" {
				// Top-level objects also carry these two, stripped before the walk.
				valid = append(valid, "apiVersion", "kind")
			}
			return nil, unknownField(k, path, valid)
		}
		cv, err := coerceField(obj[k], fd, join(path, k))
		if err != nil {
			return nil, err
		}
		out[k] = cv
	}
	return out, nil
}

func coerceField(v any, fd protoreflect.FieldDescriptor, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch {
	case fd.IsMap():
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%sexpected a mapping, got %s", at(path), typeName(v))
		}
		out := make(map[string]any, len(m))
		for _, k := range sortedKeys(m) {
			cv, err := coerceSingle(m[k], fd.MapValue(), path+"."+k)
			if err != nil {
				return nil, err
			}
			if cv == nil {
				return nil, fmt.Errorf("%sa value is required", at(path+"."+k))
			}
			out[k] = cv
		}
		return out, nil
	case fd.IsList():
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%sexpected a list, got %s", at(path), typeName(v))
		}
		out := make([]any, len(l))
		for i, e := range l {
			p := fmt.Sprintf("%s[%d]", path, i)
			if e == nil {
				return nil, fmt.Errorf("%san empty list item", at(p))
			}
			cv, err := coerceSingle(e, fd, p)
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	}
	return coerceSingle(v, fd, path)
}

// coerceSingle converts one non-repeated value of the field's type.
func coerceSingle(v any, fd protoreflect.FieldDescriptor, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return coerceMessage(v, fd.Message(), path)
	case protoreflect.StringKind:
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
		return nil, fmt.Errorf("%sexpected a string, got %s", at(path), typeName(v))
	case protoreflect.BoolKind:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if x == "true" || x == "false" {
				return x == "true", nil
			}
		}
		return nil, fmt.Errorf("%sexpected true or false, got %s", at(path), describe(v))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return coerceInt(v, path, math.MinInt32, math.MaxInt32)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return coerceInt(v, path, math.MinInt64, math.MaxInt64)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return coerceInt(v, path, 0, math.MaxUint32)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// Wider than int64 is not needed by any field; keep the check simple.
		return coerceInt(v, path, 0, math.MaxInt64)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		s := scalarText(v)
		if _, err := strconv.ParseFloat(s, 64); err != nil || s == "" {
			return nil, fmt.Errorf("%sexpected a number, got %s", at(path), describe(v))
		}
		return json.Number(s), nil
	}
	// Enums and bytes: protojson knows their forms.
	return v, nil
}

func coerceInt(v any, path string, lo, hi int64) (any, error) {
	s := scalarText(v)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// 3.0 is a whole number too, as YAML and JSON writers produce it.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
			return nil, fmt.Errorf("%sexpected a whole number, got %s", at(path), describe(v))
		}
		n = int64(f)
	}
	if n < lo || n > hi {
		return nil, fmt.Errorf("%s%d is out of range [%d, %d]", at(path), n, lo, hi)
	}
	return json.Number(strconv.FormatInt(n, 10)), nil
}

// scalarText is the text of a number or string; "" for anything else.
func scalarText(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return strings.TrimSpace(x)
	}
	return ""
}

func unknownField(name, path string, valid []string) error {
	where := ""
	if path != "" {
		where = " in " + path
	}
	if s := closest(name, valid); s != "" {
		return fmt.Errorf("unknown field %q%s (did you mean %q?)", name, where, s)
	}
	sort.Strings(valid)
	return fmt.Errorf("unknown field %q%s; known fields: %s", name, where, strings.Join(valid, ", "))
}

func jsonNames(md protoreflect.MessageDescriptor) []string {
	var out []string
	for i := 0; i < md.Fields().Len(); i++ {
		out = append(out, md.Fields().Get(i).JSONName())
	}
	return out
}

// closest suggests a known name within a small edit distance of s.
func closest(s string, valid []string) string {
	best, bestD := "", 3
	for _, v := range valid {
		if d := editDistance(strings.ToLower(s), strings.ToLower(v)); d < bestD {
			best, bestD = v, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func typeName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", v)
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return typeName(v)
}
