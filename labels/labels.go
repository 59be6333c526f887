// Package labels parses label selectors ("app=web,tier!=db,env in (a,b),!old")
// and checks label keys and values. It is the one place that knows their
// syntax; the API server, the controllers and the command line share it.
package labels

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// Operator is how a requirement compares a label.
type Operator string

const (
	Equals       Operator = "="
	NotEquals    Operator = "!="
	In           Operator = "in"
	NotIn        Operator = "notin"
	Exists       Operator = "exists"
	DoesNotExist Operator = "!"
)

// Requirement is one clause of a selector.
type Requirement struct {
	Key    string
	Op     Operator
	Values []string
}

// Selector is a conjunction of requirements; the empty selector matches
// everything.
type Selector []Requirement

// Everything matches every set of labels.
func Everything() Selector { return nil }

// Empty reports whether s matches everything.
func (s Selector) Empty() bool { return len(s) == 0 }

// Matches reports whether the labels satisfy every requirement.
func (s Selector) Matches(l map[string]string) bool {
	for _, r := range s {
		if !r.matches(l) {
			return false
		}
	}
	return true
}

func (r Requirement) matches(l map[string]string) bool {
	v, has := l[r.Key]
	switch r.Op {
	case Equals:
		return has && v == r.Values[0]
	case NotEquals:
		return !has || v != r.Values[0]
	case In:
		return has && contains(r.Values, v)
	case NotIn:
		return !has || !contains(r.Values, v)
	case Exists:
		return has
	case DoesNotExist:
		return !has
	}
	return false
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// String prints the selector in the syntax Parse reads.
func (s Selector) String() string {
	parts := make([]string, 0, len(s))
	for _, r := range s {
		switch r.Op {
		case Equals, NotEquals:
			parts = append(parts, r.Key+string(r.Op)+r.Values[0])
		case In, NotIn:
			parts = append(parts, fmt.Sprintf("%s %s (%s)", r.Key, r.Op, strings.Join(r.Values, ",")))
		case Exists:
			parts = append(parts, r.Key)
		case DoesNotExist:
			parts = append(parts, "!"+r.Key)
		}
	}
	return strings.Join(parts, ",")
}

// SelectorFromSet matches labels equal to every pair of set.
func SelectorFromSet(set map[string]string) Selector {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := make(Selector, 0, len(keys))
	for _, k := range keys {
		s = append(s, Requirement{Key: k, Op: Equals, Values: []string{set[k]}})
	}
	return s
}

// FromLabelSelector converts the API's structured selector.
func FromLabelSelector(ls *skiffv1.LabelSelector) (Selector, error) {
	s := SelectorFromSet(ls.GetMatchLabels())
	for i, e := range ls.GetMatchExpressions() {
		var op Operator
		switch e.GetOperator() {
		case "In":
			op = In
		case "NotIn":
			op = NotIn
		case "Exists":
			op = Exists
		case "DoesNotExist":
			op = DoesNotExist
		default:
			return nil, fmt.Errorf("matchExpressions[%d].operator: %q is not one of In, NotIn, Exists, DoesNotExist", i, e.GetOperator())
		}
		if err := ValidateKey(e.GetKey()); err != nil {
			return nil, fmt.Errorf("matchExpressions[%d].key: %w", i, err)
		}
		if (op == In || op == NotIn) && len(e.GetValues()) == 0 {
			return nil, fmt.Errorf("matchExpressions[%d].values: must not be empty for %s", i, e.GetOperator())
		}
		if (op == Exists || op == DoesNotExist) && len(e.GetValues()) > 0 {
			return nil, fmt.Errorf("matchExpressions[%d].values: must be empty for %s", i, e.GetOperator())
		}
		s = append(s, Requirement{Key: e.GetKey(), Op: op, Values: e.GetValues()})
	}
	return s, nil
}

var (
	nameRE   = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	prefixRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// ValidateKey checks a label key: an optional DNS-subdomain prefix and "/",
// then a name of at most 63 characters.
func ValidateKey(k string) error {
	name := k
	if i := strings.LastIndexByte(k, '/'); i >= 0 {
		prefix := k[:i]
		name = k[i+1:]
		if prefix == "" || len(prefix) > 253 || !prefixRE.MatchString(prefix) {
			return fmt.Errorf("%q: the prefix before '/' must be a DNS subdomain", k)
		}
	}
	if name == "" || len(name) > 63 || !nameRE.MatchString(name) {
		return fmt.Errorf("%q is not a valid label key: at most 63 characters, alphanumerics with '-', '_' or '.' inside", k)
	}
	return nil
}

// ValidateValue checks a label value: empty, or at most 63 characters of
// alphanumerics with '-', '_' or '.' inside.
func ValidateValue(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 63 || !nameRE.MatchString(v) {
		return fmt.Errorf("%q is not a valid label value: at most 63 characters, alphanumerics with '-', '_' or '.' inside", v)
	}
	return nil
}
