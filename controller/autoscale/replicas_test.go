package autoscale

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// pods makes n ready pods p0…p(n-1) requesting 100m each.
func pods(n int) []Pod {
	out := make([]Pod, n)
	for i := range out {
		out[i] = Pod{Name: fmt.Sprintf("p%d", i), Ready: true, Request: 100}
	}
	return out
}

// use gives pods p0…p(len-1) the listed millicores.
func use(m ...int64) map[string]int64 {
	out := map[string]int64{}
	for i, v := range m {
		out[fmt.Sprintf("p%d", i)] = v
	}
	return out
}

func TestReplicas(t *testing.T) {
	unready := func(ps []Pod, idx ...int) []Pod {
		for _, i := range idx {
			ps[i].Ready = false
		}
		return ps
	}
	pending := func(ps []Pod, idx ...int) []Pod {
		for _, i := range idx {
			ps[i].Pending, ps[i].Ready = true, false
		}
		return ps
	}
	cases := []struct {
		name     string
		current  int32
		pods     []Pod
		usage    map[string]int64
		target   int32
		want     int32
		wantUtil int32
		wantErr  error
	}{
		{"on target", 3, pods(3), use(50, 50, 50), 50, 3, 50, nil},
		{"within tolerance above", 3, pods(3), use(54, 54, 54), 50, 3, 54, nil},
		{"within tolerance below", 3, pods(3), use(46, 46, 46), 50, 3, 46, nil},
		{"just past tolerance", 4, pods(4), use(56, 56, 56, 56), 50, 5, 56, nil},
		{"double load", 2, pods(2), use(100, 100), 50, 4, 100, nil},
		{"one pod burning", 1, pods(1), use(100), 50, 2, 100, nil},
		{"idle scales down", 4, pods(4), use(10, 10, 10, 10), 50, 1, 10, nil},
		{"uneven mean", 2, pods(2), use(150, 10), 50, 4, 80, nil}, // ratio 1.6 over 2 pods: ceil(3.2)
		// missing metrics: scale-up assumes 0 for the missing pod.
		{"missing dampens scale-up", 3, pods(3), use(100, 100), 50, 4, 100, nil},
		// missing metrics: scale-down assumes 100 % for the missing pod.
		{"missing dampens scale-down", 3, pods(3), use(10, 10), 50, 3, 10, nil},
		{"missing, still down", 4, pods(4), use(0, 0, 0), 200, 1, 0, nil}, // missing at 200m: ratio .25
		// not ready pods count as 0 on scale-up.
		{"unready dampens scale-up", 4, unready(pods(4), 2, 3), use(100, 100, 0, 0), 50, 4, 100, nil},
		{"unready ignored on scale-down", 4, unready(pods(4), 3), use(10, 10, 10, 500), 50, 1, 10, nil},
		{"pending counts as unready", 2, pending(pods(2), 1), use(200), 50, 4, 200, nil},
		{"all unready: no metrics", 2, unready(pods(2), 0, 1), use(100, 100), 50, 0, 0, ErrNoMetrics},
		{"no metrics at all", 2, pods(2), use(), 50, 0, 0, ErrNoMetrics},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Replicas(c.current, c.pods, c.usage, c.target, DefaultTolerance)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Replicas != c.want || got.UtilizationPercent != c.wantUtil {
				t.Errorf("got %d replicas at %d%%, want %d at %d%%", got.Replicas, got.UtilizationPercent, c.want, c.wantUtil)
			}
		})
	}
}

func TestReplicasErrors(t *testing.T) {
	p := pods(1)
	p[0].Request = 0
	if _, err := Replicas(1, p, use(10), 50, DefaultTolerance); err == nil {
		t.Error("a pod without a CPU request must be an error")
	}
	if _, err := Replicas(1, pods(1), use(10), 0, DefaultTolerance); err == nil {
		t.Error("a zero target must be an error")
	}
}

func TestLimit(t *testing.T) {
	cases := []struct {
		name                       string
		current, desired, min, max int32
		want                       int32
		limited                    bool
		reason                     string
	}{
		{"within range", 2, 3, 1, 10, 3, false, ReasonDesiredWithinRange},
		{"below min", 3, 0, 2, 10, 2, true, ReasonTooFewReplicas},
		{"above max", 3, 12, 1, 5, 5, true, ReasonTooManyReplicas},
		{"+4 from one", 1, 20, 1, 100, 5, true, ReasonScaleUpLimit},
		{"double from ten", 10, 50, 1, 100, 20, true, ReasonScaleUpLimit},
		{"max below up limit wins", 1, 20, 1, 3, 3, true, ReasonTooManyReplicas},
		{"exactly the up limit", 10, 20, 1, 100, 20, false, ReasonDesiredWithinRange},
		{"scale down is not rate limited", 50, 1, 1, 100, 1, false, ReasonDesiredWithinRange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, limited, reason, _ := Limit(c.current, c.desired, c.min, c.max)
			if got != c.want || limited != c.limited || reason != c.reason {
				t.Errorf("Limit(%d, %d, %d, %d) = %d, %v, %s; want %d, %v, %s",
					c.current, c.desired, c.min, c.max, got, limited, reason, c.want, c.limited, c.reason)
			}
		})
	}
}

func TestStabilize(t *testing.T) {
	t0 := time.Unix(1000, 0)
	window := 5 * time.Minute
	steps := []struct {
		after time.Duration
		rec   int32
		want  int32
	}{
		{0, 5, 5},
		{15 * time.Second, 8, 8},                        // up goes through at once
		{30 * time.Second, 2, 8},                        // down waits for the window
		{4 * time.Minute, 1, 8},                         // 8 still inside
		{15*time.Second + window, 1, 2},                 // 8 has left; 2 remains
		{30*time.Second + window + time.Second, 1, 1},   // only ones left
		{30*time.Second + window + 2*time.Second, 3, 3}, // up again at once
	}
	var s Stabilizer
	current := int32(5)
	for i, st := range steps {
		got := s.Stabilize(t0.Add(st.after), 0, window, current, st.rec)
		if got != st.want {
			t.Errorf("step %d (+%v, rec %d): got %d, want %d", i, st.after, st.rec, got, st.want)
		}
		current = got
	}
	if len(s.recs) > 4 {
		t.Errorf("stabilizer keeps %d recommendations; old ones must be dropped", len(s.recs))
	}
}

// TestStabilizeScaleUpWindow: with a scale-up window, a rise goes through
// only once every recommendation of the window asks for it, and then to
// the lowest of them.
func TestStabilizeScaleUpWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var s Stabilizer
	up, down := time.Minute, time.Duration(0)
	for i, st := range []struct {
		after        time.Duration
		current, rec int32
		want         int32
	}{
		{0, 2, 2, 2},
		{20 * time.Second, 2, 6, 2}, // 2 is still in the window
		{40 * time.Second, 2, 5, 2}, // still
		{70 * time.Second, 2, 7, 5}, // 2 has left: the lowest left is 5
		{80 * time.Second, 5, 1, 1}, // no scale-down window: down at once
	} {
		if got := s.Stabilize(t0.Add(st.after), up, down, st.current, st.rec); got != st.want {
			t.Errorf("step %d: got %d, want %d", i, got, st.want)
		}
	}
}

func TestScaleUpLimit(t *testing.T) {
	for cur, want := range map[int32]int32{0: 4, 1: 5, 4: 8, 5: 10, 100: 200} {
		if got := ScaleUpLimit(cur); got != want {
			t.Errorf("ScaleUpLimit(%d) = %d, want %d", cur, got, want)
		}
	}
}
