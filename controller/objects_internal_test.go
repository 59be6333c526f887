package controller

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// A pod is available once it has been ready for minReadySeconds.
func TestPodAvailable(t *testing.T) {
	now := time.Now()
	pod := func(status string, readyFor time.Duration) *skiffv1.Pod {
		return &skiffv1.Pod{Status: &skiffv1.PodStatus{Conditions: []*skiffv1.Condition{
			{Type: "Ready", Status: status, LastTransitionTime: timestamppb.New(now.Add(-readyFor))},
		}}}
	}
	for _, c := range []struct {
		name     string
		p        *skiffv1.Pod
		minReady time.Duration
		want     bool
		wait     time.Duration
	}{
		{"ready, no minimum", pod("True", 0), 0, true, 0},
		{"ready long enough", pod("True", 5*time.Second), 3 * time.Second, true, 0},
		{"ready too briefly", pod("True", time.Second), 3 * time.Second, false, 2 * time.Second},
		{"not ready", pod("False", time.Hour), 0, false, 0},
		{"no condition", &skiffv1.Pod{}, 0, false, 0},
	} {
		got, wait := podAvailable(c.p, c.minReady, now)
		if got != c.want || wait != c.wait {
			t.Errorf("%s: available %v wait %v, want %v %v", c.name, got, wait, c.want, c.wait)
		}
	}
}
