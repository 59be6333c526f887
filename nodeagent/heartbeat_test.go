package nodeagent

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// The Node's status is written only when it changed or is due: the
// Lease carries the heartbeat in between.
func TestStatusDue(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	node := func(status string, beat time.Duration, running int32) *skiffv1.Node {
		return &skiffv1.Node{Status: &skiffv1.NodeStatus{RunningPods: running, Conditions: []*skiffv1.Condition{
			{Type: skiffv1.NodeReady, Status: status, LastHeartbeatTime: timestamppb.New(now.Add(-beat))},
		}}}
	}
	every := 5 * time.Minute
	for _, tc := range []struct {
		name    string
		n       *skiffv1.Node
		running int32
		want    bool
	}{
		{"unchanged and recent", node(skiffv1.ConditionTrue, time.Minute, 3), 3, false},
		{"just under the report interval", node(skiffv1.ConditionTrue, every-time.Second, 3), 3, false},
		{"report interval reached", node(skiffv1.ConditionTrue, every, 3), 3, true},
		{"running pods changed", node(skiffv1.ConditionTrue, time.Second, 3), 4, true},
		{"marked Unknown by the controller", node(skiffv1.ConditionUnknown, time.Minute, 3), 3, true},
		{"no Ready condition", &skiffv1.Node{}, 0, true},
		{"Ready without a heartbeat", &skiffv1.Node{Status: &skiffv1.NodeStatus{Conditions: []*skiffv1.Condition{
			{Type: skiffv1.NodeReady, Status: skiffv1.ConditionTrue}}}}, 0, true},
	} {
		if got := statusDue(tc.n, tc.running, now, every); got != tc.want {
			t.Errorf("%s: statusDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}
