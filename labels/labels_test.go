package labels

import (
	"testing"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestParseAndMatch(t *testing.T) {
	l := map[string]string{"app": "web", "tier": "front", "env": "prod"}
	cases := []struct {
		sel  string
		want bool
	}{
		{"", true},
		{"app=web", true},
		{"app==web", true},
		{"app=db", false},
		{"app!=db", true},
		{"missing!=x", true},
		{"app=web,tier=front", true},
		{"app=web,tier=back", false},
		{"env in (prod, staging)", true},
		{"env notin (prod)", false},
		{"env in (dev),app=web", false},
		{"app", true},
		{"!app", false},
		{"!legacy", true},
		{"example.com/role", false},
	}
	for _, c := range cases {
		s, err := Parse(c.sel)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.sel, err)
			continue
		}
		if got := s.Matches(l); got != c.want {
			t.Errorf("%q matches %v = %v, want %v", c.sel, l, got, c.want)
		}
		if re, err := Parse(s.String()); err != nil || re.String() != s.String() {
			t.Errorf("round trip of %q: %q, %v", c.sel, re.String(), err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"a=b,", "=x", "a in b", "a in (x", "-bad=1", "a=b c", "x/=1", strings64() + "=1"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) should fail", in)
		}
	}
}

func strings64() string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestFromLabelSelector(t *testing.T) {
	s, err := FromLabelSelector(&skiffv1.LabelSelector{
		MatchLabels:      map[string]string{"app": "web"},
		MatchExpressions: []*skiffv1.LabelSelectorRequirement{{Key: "env", Operator: "In", Values: []string{"a", "b"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Matches(map[string]string{"app": "web", "env": "b"}) || s.Matches(map[string]string{"app": "web"}) {
		t.Error("wrong match")
	}
	if _, err := FromLabelSelector(&skiffv1.LabelSelector{MatchExpressions: []*skiffv1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}); err == nil {
		t.Error("unknown operator accepted")
	}
}
