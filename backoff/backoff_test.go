package backoff

import (
	"testing"
	"time"
)

func TestExponential(t *testing.T) {
	base, max := 10*time.Millisecond, 75*time.Millisecond
	want := []time.Duration{10, 20, 40, 75, 75}
	for n, w := range want {
		if got := Exponential(base, max, n); got != w*time.Millisecond {
			t.Errorf("Exponential(n=%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	if got := Exponential(time.Second, time.Minute, 1000); got != time.Minute {
		t.Errorf("many failures: %v, want the cap", got)
	}
}

func TestBackoffNextAndReset(t *testing.T) {
	b := Backoff{Base: time.Millisecond, Max: 4 * time.Millisecond}
	var got []time.Duration
	for range 4 {
		got = append(got, b.Next())
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Next() sequence %v, want %v", got, want)
		}
	}
	b.Reset()
	if d := b.Next(); d != time.Millisecond {
		t.Fatalf("after Reset: %v, want Base", d)
	}
}
