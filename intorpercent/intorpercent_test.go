package intorpercent

import "testing"

func TestOf(t *testing.T) {
	for _, c := range []struct {
		in      string
		total   int
		up      bool
		want    int
		wantErr bool
	}{
		{in: "3", total: 10, want: 3},
		{in: "25%", total: 10, up: true, want: 3},
		{in: "25%", total: 10, up: false, want: 2},
		{in: "25%", total: 4, up: true, want: 1},
		{in: "25%", total: 1, up: false, want: 0},
		{in: "100%", total: 6, want: 6},
		{in: "0%", total: 6, up: true, want: 0},
		{in: "-1", wantErr: true},
		{in: "x%", wantErr: true},
		{in: "", wantErr: true},
		{in: "1.5", wantErr: true},
	} {
		v, err := Parse(c.in)
		if (err != nil) != c.wantErr {
			t.Fatalf("Parse(%q) err %v", c.in, err)
		}
		if err != nil {
			continue
		}
		if got := v.Of(c.total, c.up); got != c.want {
			t.Errorf("%q of %d (up %v) = %d, want %d", c.in, c.total, c.up, got, c.want)
		}
	}
}
