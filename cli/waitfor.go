package cli

import (
	"fmt"
	"strings"

	"github.com/skiff-sh/skiff/cli/jsonpath"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// waitFor is what `skiff wait --for` asks: a condition of a type with a
// status, a JSONPath value, the object's creation or its deletion.
type waitFor struct {
	deleted, created bool
	typ              string // compared without regard to case, as kubectl does
	status           string
	// path, when set: its value must be value (valueGiven), or merely
	// exist.
	path       *jsonpath.Path
	pathExpr   string
	value      string
	valueGiven bool
}

const waitForUsage = "give condition=TYPE[=STATUS], jsonpath='{PATH}'[=VALUE], create or delete"

func parseWaitFor(s string) (waitFor, error) {
	switch s {
	case "delete":
		return waitFor{deleted: true}, nil
	case "create":
		return waitFor{created: true}, nil
	}
	if rest, ok := strings.CutPrefix(s, "jsonpath="); ok {
		return parseWaitForPath(s, rest)
	}
	rest, ok := strings.CutPrefix(s, "condition=")
	if !ok || rest == "" {
		return waitFor{}, fmt.Errorf("--for %q: %s", s, waitForUsage)
	}
	typ, status, ok := strings.Cut(rest, "=")
	if !ok {
		status = "True"
	}
	if typ == "" || status == "" {
		return waitFor{}, fmt.Errorf("--for %q: %s", s, waitForUsage)
	}
	return waitFor{typ: typ, status: status}, nil
}

// parseWaitForPath reads kubectl's jsonpath='{.status.phase}'=Running: the
// expression in braces (which may hold '=' in a filter), then =VALUE or
// nothing; without braces, the path is what comes before the last '='.
func parseWaitForPath(s, rest string) (waitFor, error) {
	expr, value, given := rest, "", false
	if strings.HasPrefix(rest, "{") {
		end := strings.LastIndex(rest, "}")
		expr = rest[:end+1]
		if after := rest[end+1:]; after != "" {
			v, ok := strings.CutPrefix(after, "=")
			if !ok {
				return waitFor{}, fmt.Errorf("--for %q: after the JSONPath's closing brace, give =VALUE or nothing", s)
			}
			value, given = v, true
		}
	} else if i := strings.LastIndex(rest, "="); i >= 0 {
		expr, value, given = rest[:i], rest[i+1:], true
	}
	if strings.Trim(expr, "{} ") == "" {
		return waitFor{}, fmt.Errorf("--for %q: %s", s, waitForUsage)
	}
	p, err := jsonpath.ParsePath(expr)
	if err != nil {
		return waitFor{}, fmt.Errorf("--for %q: %w", s, err)
	}
	return waitFor{path: p, pathExpr: expr, value: value, valueGiven: given}, nil
}

// met reports whether obj (nil: gone) satisfies w. A JSONPath that finds
// several values, or a map or list, is an error: there is no one value to
// compare.
func (w waitFor) met(obj skiffv1.Resource) (bool, error) {
	switch {
	case w.deleted || obj == nil:
		return w.deleted && obj == nil, nil
	case w.created:
		return true, nil
	case w.path != nil:
		return w.pathMet(obj)
	}
	for _, c := range conditionsOf(obj) {
		if strings.EqualFold(c.GetType(), w.typ) && strings.EqualFold(c.GetStatus(), w.status) {
			return true, nil
		}
	}
	return false, nil
}

func (w waitFor) pathMet(obj skiffv1.Resource) (bool, error) {
	data, err := objectJSON(obj)
	if err != nil {
		return false, err
	}
	vals, err := w.path.Find(data)
	if err != nil {
		return false, fmt.Errorf("--for jsonpath %s: %w", w.pathExpr, err)
	}
	switch {
	case len(vals) == 0:
		return false, nil
	case len(vals) > 1:
		return false, fmt.Errorf("--for jsonpath %s finds %d values; give a path to one", w.pathExpr, len(vals))
	case !w.valueGiven:
		return true, nil
	}
	switch vals[0].(type) {
	case map[string]any, []any:
		return false, fmt.Errorf("--for jsonpath %s finds an object or a list; give a path to one value", w.pathExpr)
	}
	got, err := jsonpath.Format(vals[0])
	return got == w.value, err
}

func describeWait(w waitFor) string {
	switch {
	case w.deleted:
		return "deletion"
	case w.created:
		return "creation"
	case w.path != nil && w.valueGiven:
		return fmt.Sprintf("jsonpath %s=%s", w.pathExpr, w.value)
	case w.path != nil:
		return fmt.Sprintf("jsonpath %s to exist", w.pathExpr)
	}
	return fmt.Sprintf("condition %s=%s", w.typ, w.status)
}
