package jsonpath

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// MissingError is a key or index a path asked for and the data lacks,
// when missing keys are not allowed.
type MissingError struct {
	Path string // the expression
	Key  string // what was not there: a field name or "[5]"
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s is not found (in {%s})", e.Key, e.Path)
}

// Execute writes the template run over data. With allowMissing (kubectl's
// default) a key the data lacks prints nothing; without, it is an error
// naming the key.
func (t *Template) Execute(w io.Writer, data any, allowMissing bool) error {
	var b bytes.Buffer
	ev := &evaluator{root: data, allowMissing: allowMissing}
	if err := ev.run(&b, t.nodes, data); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Find returns the values the path finds in data (@ and $ both being
// data); a key the data lacks finds nothing.
func (p *Path) Find(data any) ([]any, error) {
	ev := &evaluator{root: data, allowMissing: true}
	return ev.find(p, data)
}

// maxValues bounds what one expression finds: unions and .. multiply
// values, and a template should not eat the machine's memory.
const maxValues = 1 << 20

type evaluator struct {
	root         any
	allowMissing bool
}

func (ev *evaluator) run(b *bytes.Buffer, nodes []node, cur any) error {
	for _, n := range nodes {
		switch n := n.(type) {
		case textNode:
			b.WriteString(string(n))
		case *exprNode:
			vals, err := ev.find(n.path, cur)
			if err != nil {
				return err
			}
			for i, v := range vals {
				if i > 0 {
					b.WriteByte(' ')
				}
				s, err := Format(v)
				if err != nil {
					return err
				}
				b.WriteString(s)
			}
		case *rangeNode:
			vals, err := ev.find(n.path, cur)
			if err != nil {
				return err
			}
			for _, v := range vals {
				if err := ev.run(b, n.body, v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Format prints a value as kubectl does: strings raw, numbers and booleans
// as they are, null as null, maps and arrays as compact JSON.
func Format(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	case nil:
		return "null", nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func (ev *evaluator) find(p *Path, cur any) ([]any, error) {
	vals := []any{cur}
	if p.root {
		vals = []any{ev.root}
	}
	// After .., a key some values lack is no error: most lack it.
	lenient := false
	for _, s := range p.steps {
		var next []any
		switch s := s.(type) {
		case descendStep:
			for _, v := range vals {
				next = descend(next, v)
				if len(next) > maxValues {
					return nil, ev.tooMany(p)
				}
			}
			lenient = true
		case wildcardStep:
			for _, v := range vals {
				next = append(next, children(v)...)
				if len(next) > maxValues {
					return nil, ev.tooMany(p)
				}
			}
		case fieldStep:
			// Each name over every value, as kubectl orders a union.
			for _, name := range s.names {
				for _, v := range vals {
					x, found, isMap := lookup(v, name)
					if found {
						next = append(next, x)
						if len(next) > maxValues {
							return nil, ev.tooMany(p)
						}
					} else if !lenient && !ev.allowMissing && (isMap || len(vals) == 1) {
						return nil, &MissingError{Path: p.src, Key: name.key}
					}
				}
			}
		case indexStep:
			for _, it := range s.items {
				for _, v := range vals {
					arr, ok := v.([]any)
					if !ok {
						continue
					}
					got, err := pick(arr, it)
					if err != nil && !lenient && !ev.allowMissing {
						return nil, &MissingError{Path: p.src, Key: err.Error()}
					}
					next = append(next, got...)
					if len(next) > maxValues {
						return nil, ev.tooMany(p)
					}
				}
			}
		case filterStep:
			for _, v := range vals {
				arr, ok := v.([]any)
				if !ok {
					continue
				}
				for _, x := range arr {
					keep, err := ev.test(s.cond, x)
					if err != nil {
						return nil, err
					}
					if keep {
						next = append(next, x)
					}
				}
			}
		}
		if len(next) > maxValues {
			return nil, ev.tooMany(p)
		}
		vals = next
	}
	return vals, nil
}

// lookup finds a name in v: its exact key, else the path its dots make.
func lookup(v any, name fieldName) (x any, found, isMap bool) {
	m, isMap := v.(map[string]any)
	if x, ok := m[name.key]; ok {
		return x, true, isMap
	}
	if len(name.segments) == 1 {
		return nil, false, isMap
	}
	x = v
	for _, seg := range name.segments {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, false, isMap
		}
		if x, ok = m[seg]; !ok {
			return nil, false, isMap
		}
	}
	return x, true, isMap
}

func (ev *evaluator) tooMany(p *Path) error {
	return fmt.Errorf("{%s} finds more than %d values", p.src, maxValues)
}

// pick returns the elements an index or slice picks; an index past the
// end picks nothing and says so.
func pick(arr []any, it indexItem) ([]any, error) {
	n := len(arr)
	if !it.slice {
		i := it.index
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			return nil, fmt.Errorf("[%d] (array of %d)", it.index, n)
		}
		return []any{arr[i]}, nil
	}
	clamp := func(i int) int {
		if i < 0 {
			i += n
		}
		return max(0, min(i, n))
	}
	start, end := 0, n
	if it.hasStart {
		start = clamp(it.start)
	}
	if it.hasEnd {
		end = clamp(it.end)
	}
	var out []any
	for i := start; i < end; i += it.step {
		out = append(out, arr[i])
	}
	return out, nil
}

// children are a map's values by key order, or an array's elements.
func children(v any) []any {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, 0, len(v))
		for _, k := range keys {
			out = append(out, v[k])
		}
		return out
	case []any:
		return v
	}
	return nil
}

// descend appends v and every value below it, parents first.
func descend(out []any, v any) []any {
	out = append(out, v)
	for _, c := range children(v) {
		out = descend(out, c)
	}
	return out
}

func (ev *evaluator) test(c *condition, x any) (bool, error) {
	left, lok, err := ev.operandValue(c.left, x)
	if err != nil {
		return false, err
	}
	if c.op == "" {
		return lok, nil
	}
	right, rok, err := ev.operandValue(c.right, x)
	if err != nil {
		return false, err
	}
	if !lok || !rok {
		return false, nil
	}
	return compare(left, c.op, right), nil
}

// operandValue is a filter operand's value: a path's first value (ok is
// false when it finds none) or a literal.
func (ev *evaluator) operandValue(o operand, x any) (any, bool, error) {
	if o.path == nil {
		return o.value, true, nil
	}
	lenientEv := &evaluator{root: ev.root, allowMissing: true}
	vals, err := lenientEv.find(o.path, x)
	if err != nil || len(vals) == 0 {
		return nil, false, err
	}
	return vals[0], true, nil
}

// compare compares numbers as numbers and strings as strings; values of
// different types are only ever unequal.
func compare(a any, op string, b any) bool {
	if n, ok := a.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			a = f
		}
	}
	if n, ok := b.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			b = f
		}
	}
	var c int
	switch av := a.(type) {
	case float64:
		bv, ok := b.(float64)
		if !ok {
			return op == "!="
		}
		c = cmpOrdered(av, bv)
	case string:
		bv, ok := b.(string)
		if !ok {
			return op == "!="
		}
		c = strings.Compare(av, bv)
	case bool:
		bv, ok := b.(bool)
		if !ok || (op != "==" && op != "!=") {
			return op == "!=" && (!ok || av != bv)
		}
		if av != bv {
			c = 1
		}
	case nil:
		if op != "==" && op != "!=" {
			return false
		}
		if b != nil {
			c = 1
		}
	default:
		// Maps and arrays compare by their JSON.
		as, _ := Format(a)
		bs, _ := Format(b)
		if op != "==" && op != "!=" {
			return false
		}
		c = strings.Compare(as, bs)
	}
	switch op {
	case "==":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}

func cmpOrdered(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
