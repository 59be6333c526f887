package skiffv1

import (
	"testing"
	"time"
)

// Re-setting a condition keeps its transition time unless its status
// changes; a new type is appended; Remove drops only that type.
func TestSetCondition(t *testing.T) {
	t0, t1 := time.Unix(100, 0), time.Unix(200, 0)
	var conds []*Condition
	SetCondition(&conds, &Condition{Type: PodReady, Status: ConditionFalse, Reason: ReasonContainersNotReady}, t0)
	SetCondition(&conds, &Condition{Type: PodScheduled, Status: ConditionTrue}, t0)
	SetCondition(&conds, &Condition{Type: PodReady, Status: ConditionFalse, Message: "again"}, t1)
	if c := FindCondition(conds, PodReady); !c.GetLastTransitionTime().AsTime().Equal(t0) || c.GetMessage() != "again" {
		t.Fatalf("unchanged status: got %v, want transition %v and the new message", c, t0)
	}
	SetCondition(&conds, &Condition{Type: PodReady, Status: ConditionTrue}, t1)
	if c := FindCondition(conds, PodReady); !c.GetLastTransitionTime().AsTime().Equal(t1) {
		t.Fatalf("changed status: transition %v, want %v", c.GetLastTransitionTime().AsTime(), t1)
	}
	if len(conds) != 2 || !IsPodReady(&Pod{Status: &PodStatus{Conditions: conds}}) {
		t.Fatalf("conditions %v: want 2, Ready True", conds)
	}
	RemoveCondition(&conds, PodReady)
	if len(conds) != 1 || FindCondition(conds, PodReady) != nil || FindCondition(conds, PodScheduled) == nil {
		t.Fatalf("after remove: %v", conds)
	}
	if IsNodeReady(&Node{}) || IsPodReady(nil) {
		t.Fatal("no conditions must not be ready")
	}
}

func TestIsPodTerminal(t *testing.T) {
	for phase, want := range map[string]bool{PodPending: false, PodRunning: false, PodSucceeded: true, PodFailed: true, PodUnknown: false, "": false} {
		if got := IsPodTerminal(&Pod{Status: &PodStatus{Phase: phase}}); got != want {
			t.Errorf("IsPodTerminal(%q) = %v, want %v", phase, got, want)
		}
	}
}
