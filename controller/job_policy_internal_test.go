package controller

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func TestJobBackoffDoublesFromTenSecondsToSixMinutes(t *testing.T) {
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 6 * time.Minute, 6 * time.Minute}
	for failures, w := range want {
		if got := jobBackoff(failures); got != w {
			t.Errorf("jobBackoff(%d) = %v, want %v", failures, got, w)
		}
	}
	if got := jobBackoff(1000); got != 6*time.Minute {
		t.Errorf("jobBackoff(1000) = %v, want the 6m cap", got)
	}
}

func failedPod(codes map[string]int32) *skiffv1.Pod {
	p := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Name: "p", Namespace: "ns"}, Status: &skiffv1.PodStatus{Phase: "Failed"}}
	for _, name := range []string{"main", "side"} {
		if c, ok := codes[name]; ok {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, &skiffv1.ContainerStatus{
				Name: name, State: &skiffv1.ContainerState{Terminated: &skiffv1.ContainerStateTerminated{ExitCode: c}}})
		}
	}
	return p
}

func TestFailureActionTakesTheFirstMatchingRule(t *testing.T) {
	rule := func(action, container, op string, values ...int32) *skiffv1.PodFailurePolicyRule {
		return &skiffv1.PodFailurePolicyRule{Action: action, OnExitCodes: &skiffv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: container, Operator: op, Values: values}}
	}
	policy := &skiffv1.PodFailurePolicy{Rules: []*skiffv1.PodFailurePolicyRule{
		rule("Ignore", "", "In", 7),
		rule("FailJob", "main", "In", 42),
		rule("Count", "", "In", 42),
		rule("FailJob", "side", "NotIn", 1, 2),
	}}
	for _, tc := range []struct {
		name    string
		codes   map[string]int32
		action  string
		message string
	}{
		{"ignored code", map[string]int32{"main": 7}, "Ignore", ""},
		{"FailJob for main", map[string]int32{"main": 42}, "FailJob", "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1"},
		{"42 of another container is counted", map[string]int32{"side": 42}, "Count", ""},
		{"NotIn matches other codes", map[string]int32{"side": 3}, "FailJob", "Container side for pod ns/p failed with exit code 3 matching FailJob rule at index 3"},
		{"NotIn does not match listed codes", map[string]int32{"side": 1}, "Count", ""},
		{"exit 0 never matches NotIn", map[string]int32{"side": 0, "main": 5}, "Count", ""},
		{"no rule: Count", map[string]int32{"main": 9}, "Count", ""},
	} {
		action, msg := failureAction(policy, failedPod(tc.codes))
		if action != tc.action || (tc.message != "" && msg != tc.message) {
			t.Errorf("%s: got %q %q, want %q %q", tc.name, action, msg, tc.action, tc.message)
		}
	}
	if a, _ := failureAction(nil, failedPod(map[string]int32{"main": 1})); a != "Count" {
		t.Errorf("no policy: %q, want Count", a)
	}
}

func TestCompletedIndexesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{1, 3, 4, 5, 7}, "1,3-5,7"},
		{[]int{0, 1}, "0-1"},
		{[]int{9, 2, 8, 1, 0}, "0-2,8-9"},
	} {
		set := map[int]bool{}
		for _, i := range tc.in {
			set[i] = true
		}
		got := formatIndexes(set)
		if got != tc.want {
			t.Errorf("formatIndexes(%v) = %q, want %q", tc.in, got, tc.want)
		}
		back := parseIndexes(got)
		if len(back) != len(set) {
			t.Errorf("parseIndexes(%q) = %v, want %v", got, back, set)
		}
		for i := range set {
			if !back[i] {
				t.Errorf("parseIndexes(%q) lacks %d", got, i)
			}
		}
	}
	if got := parseIndexes("x,3-,-,2"); len(got) != 1 || !got[2] {
		t.Errorf("garbage in completedIndexes: %v, want only 2", got)
	}
}

func TestIndexesToStartFillsTheLowestGaps(t *testing.T) {
	completed := map[int]bool{0: true, 2: true}
	running := map[int]bool{1: true}
	if got := indexesToStart(10, completed, running, 3); !slices.Equal(got, []int{3, 4, 5}) {
		t.Errorf("got %v, want [3 4 5]", got)
	}
	if got := indexesToStart(4, completed, running, 3); !slices.Equal(got, []int{3}) {
		t.Errorf("near the end: got %v, want [3]", got)
	}
	if got := indexesToStart(4, completed, running, 0); len(got) != 0 {
		t.Errorf("no room: got %v", got)
	}
}

func TestWantActive(t *testing.T) {
	for _, tc := range []struct {
		parallelism int
		completions *int32
		succeeded   int
		active      int
		want        int
	}{
		{3, proto.Int32(10), 0, 0, 3},
		{3, proto.Int32(10), 8, 3, 2},
		{3, proto.Int32(10), 10, 1, 0},
		{3, nil, 0, 1, 3},
		{3, nil, 1, 2, 2}, // a work queue: after a success the running ones finish, no new ones
		{2, nil, 1, 3, 2}, // parallelism lowered
	} {
		if got := wantActive(tc.parallelism, tc.completions, tc.succeeded, tc.active); got != tc.want {
			t.Errorf("wantActive(%d, %v, %d, %d) = %d, want %d", tc.parallelism, tc.completions, tc.succeeded, tc.active, got, tc.want)
		}
	}
}

func TestPodIndexIgnoresBadAnnotations(t *testing.T) {
	for v, want := range map[string]int{"3": 3, "-1": -1, "x": -1} {
		p := &skiffv1.Pod{Metadata: &skiffv1.ObjectMeta{Annotations: map[string]string{jobCompletionIndexKey: v}}}
		if got := podIndex(p); got != want {
			t.Errorf("podIndex(%q) = %d, want %d", v, got, want)
		}
	}
	if got := podIndex(&skiffv1.Pod{}); got != -1 {
		t.Errorf("no annotation: %d", got)
	}
}
