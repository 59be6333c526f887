package patch

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// jsonPatch applies an RFC 6902 patch: a list of operations, each on a
// JSON pointer, all or nothing.
func jsonPatch(doc, p any) (any, error) {
	ops, ok := p.([]any)
	if !ok {
		return nil, fmt.Errorf("patch: a JSON patch is a list of operations, e.g. [{\"op\": \"replace\", \"path\": \"/spec/replicas\", \"value\": 3}]")
	}
	for i, o := range ops {
		op, ok := o.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("patch: operation %d is not an object", i)
		}
		var err error
		if doc, err = applyOp(doc, op); err != nil {
			return nil, fmt.Errorf("patch: operation %d (%v %v): %w", i, op["op"], op["path"], err)
		}
	}
	return doc, nil
}

func applyOp(doc any, op map[string]any) (any, error) {
	path, ok := op["path"].(string)
	if !ok {
		return nil, fmt.Errorf("no path")
	}
	value, hasValue := op["value"]
	needValue := func() error {
		if !hasValue {
			return fmt.Errorf("no value")
		}
		return nil
	}
	switch op["op"] {
	case "add":
		if err := needValue(); err != nil {
			return nil, err
		}
		return set(doc, path, value, true)
	case "replace":
		if err := needValue(); err != nil {
			return nil, err
		}
		if _, err := get(doc, path); err != nil {
			return nil, err
		}
		return set(doc, path, value, false)
	case "remove":
		return remove(doc, path)
	case "test":
		if err := needValue(); err != nil {
			return nil, err
		}
		got, err := get(doc, path)
		if err != nil {
			return nil, err
		}
		if !reflect.DeepEqual(got, value) {
			return nil, fmt.Errorf("test failed: the value is %v", got)
		}
		return doc, nil
	case "move", "copy":
		from, ok := op["from"].(string)
		if !ok {
			return nil, fmt.Errorf("no from")
		}
		v, err := get(doc, from)
		if err != nil {
			return nil, err
		}
		if op["op"] == "move" {
			if doc, err = remove(doc, from); err != nil {
				return nil, err
			}
		}
		return set(doc, path, v, true)
	}
	return nil, fmt.Errorf("op %v: use add, remove, replace, move, copy or test", op["op"])
}

// tokens splits a JSON pointer ("/a/b~1c/0").
func tokens(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path %q does not start with /", path)
	}
	parts := strings.Split(path[1:], "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func get(doc any, path string) (any, error) {
	toks, err := tokens(path)
	if err != nil {
		return nil, err
	}
	cur := doc
	for _, t := range toks {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("%s: no %q there", path, t)
			}
			cur = v
		case []any:
			i, err := index(t, len(c), false)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("%s: %q is inside a value, not an object or a list", path, t)
		}
	}
	return cur, nil
}

// index reads a list index; "-" (the end) only where adding.
func index(t string, n int, adding bool) (int, error) {
	if t == "-" && adding {
		return n, nil
	}
	i, err := strconv.Atoi(t)
	limit := n - 1
	if adding {
		limit = n
	}
	if err != nil || i < 0 || i > limit {
		return 0, fmt.Errorf("index %q out of range (the list has %d)", t, n)
	}
	return i, nil
}

// set puts v at path (inserting into a list when insert), returning the
// new document.
func set(doc any, path string, v any, insert bool) (any, error) {
	toks, err := tokens(path)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return v, nil
	}
	return setIn(doc, toks, v, insert, path)
}

func setIn(cur any, toks []string, v any, insert bool, path string) (any, error) {
	t := toks[0]
	last := len(toks) == 1
	switch c := cur.(type) {
	case map[string]any:
		if last {
			c[t] = v
			return c, nil
		}
		child, ok := c[t]
		if !ok {
			return nil, fmt.Errorf("%s: no %q there", path, t)
		}
		nc, err := setIn(child, toks[1:], v, insert, path)
		c[t] = nc
		return c, err
	case []any:
		i, err := index(t, len(c), last && insert)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if last {
			if insert {
				return slices.Insert(c, i, v), nil
			}
			c[i] = v
			return c, nil
		}
		nc, err := setIn(c[i], toks[1:], v, insert, path)
		c[i] = nc
		return c, err
	}
	return nil, fmt.Errorf("%s: %q is inside a value, not an object or a list", path, t)
}

func remove(doc any, path string) (any, error) {
	toks, err := tokens(path)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("cannot remove the whole object")
	}
	parentPath := "/" + strings.Join(escape(toks[:len(toks)-1]), "/")
	if len(toks) == 1 {
		parentPath = ""
	}
	parent, err := get(doc, parentPath)
	if err != nil {
		return nil, err
	}
	t := toks[len(toks)-1]
	switch c := parent.(type) {
	case map[string]any:
		if _, ok := c[t]; !ok {
			return nil, fmt.Errorf("%s: no %q there", path, t)
		}
		delete(c, t)
		return doc, nil
	case []any:
		i, err := index(t, len(c), false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return set(doc, parentPath, slices.Delete(c, i, i+1), false)
	}
	return nil, fmt.Errorf("%s: not inside an object or a list", path)
}

func escape(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return out
}
