package quantity

import "testing"

func TestParse(t *testing.T) {
	cases := []struct {
		in    string
		milli int64
		str   string
	}{
		{"250m", 250, "250m"},
		{"1.5", 1500, "1500m"},
		{"2", 2000, "2"},
		{"128Mi", 128 << 20 * 1000, "128Mi"},
		{"1G", 1e9 * 1000, "1000000000"},
		{"1k", 1e6, "1000"},
		{"1Ki", 1024 * 1000, "1Ki"},
		{"1e3", 1e6, "1000"},
		{"0.1", 100, "100m"},
		{"100u", 1, "1m"}, // rounded up to a whole milli-unit
		{"0", 0, "0"},
		{"+3", 3000, "3"},
		{"1.5Gi", 1536 << 20 * 1000, "1536Mi"},
	}
	for _, c := range cases {
		q, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if q.MilliValue() != c.milli {
			t.Errorf("Parse(%q) = %d milli, want %d", c.in, q.MilliValue(), c.milli)
		}
		if q.String() != c.str {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, q.String(), c.str)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "12XB", "abc", "1..2", "m", "1e", "1e99", "--1", "1 Mi", "99999999999999999Ei"} {
		if q, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, q)
		}
	}
	_, err := Parse("12XB")
	if want := `"12XB" is not a quantity`; err == nil || len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("error %q should start with %q", err, want)
	}
}

func TestArithmetic(t *testing.T) {
	a, b := MustParse("1500m"), MustParse("1")
	if got := a.Add(b).String(); got != "2500m" {
		t.Errorf("add = %s", got)
	}
	if a.Sub(b).Cmp(MustParse("500m")) != 0 || a.Cmp(b) != 1 || b.Cmp(a) != -1 {
		t.Error("sub/cmp wrong")
	}
	if MustParse("1500m").Value() != 2 {
		t.Error("Value should round up")
	}
}

func TestHumanBytes(t *testing.T) {
	for in, want := range map[int64]string{512: "512", 2048: "2Ki", 1536 << 20: "1.5Gi", 300 << 20: "300Mi"} {
		if got := HumanBytes(in); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", in, got, want)
		}
	}
}
