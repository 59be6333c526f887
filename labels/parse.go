package labels

import (
	"fmt"
	"strings"
)

// Parse reads a selector: comma-separated clauses of the forms
// "k=v", "k==v", "k!=v", "k in (a,b)", "k notin (a,b)", "k" and "!k".
func Parse(s string) (Selector, error) {
	var sel Selector
	for _, clause := range splitClauses(s) {
		clause = strings.TrimSpace(clause)
		if clause == "" {
			if strings.TrimSpace(s) == "" {
				continue
			}
			return nil, fmt.Errorf("selector %q: empty clause", s)
		}
		r, err := parseClause(clause)
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", s, err)
		}
		sel = append(sel, r)
	}
	return sel, nil
}

// splitClauses splits on commas outside parentheses.
func splitClauses(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func parseClause(c string) (Requirement, error) {
	if strings.HasPrefix(c, "!") {
		k := strings.TrimSpace(c[1:])
		return Requirement{Key: k, Op: DoesNotExist}, ValidateKey(k)
	}
	for _, op := range []string{"!=", "==", "="} {
		if i := strings.Index(c, op); i >= 0 {
			k, v := strings.TrimSpace(c[:i]), strings.TrimSpace(c[i+len(op):])
			if err := ValidateKey(k); err != nil {
				return Requirement{}, err
			}
			if err := ValidateValue(v); err != nil {
				return Requirement{}, err
			}
			o := Equals
			if op == "!=" {
				o = NotEquals
			}
			return Requirement{Key: k, Op: o, Values: []string{v}}, nil
		}
	}
	if f := strings.Fields(c); len(f) >= 2 && (f[1] == "in" || f[1] == "notin") {
		rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(c[len(f[0]):]), f[1]))
		if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
			return Requirement{}, fmt.Errorf("%q: values of %s must be in parentheses", c, f[1])
		}
		var vals []string
		for _, v := range strings.Split(rest[1:len(rest)-1], ",") {
			v = strings.TrimSpace(v)
			if err := ValidateValue(v); err != nil {
				return Requirement{}, err
			}
			vals = append(vals, v)
		}
		if err := ValidateKey(f[0]); err != nil {
			return Requirement{}, err
		}
		op := In
		if f[1] == "notin" {
			op = NotIn
		}
		return Requirement{Key: f[0], Op: op, Values: vals}, nil
	}
	if err := ValidateKey(c); err != nil {
		return Requirement{}, err
	}
	return Requirement{Key: c, Op: Exists}, nil
}
