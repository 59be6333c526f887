package nodeagent

import (
	"testing"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// markNodeNotReady writes what the node lifecycle controller writes on the
// pods of a node it stopped hearing from: Ready=False, NodeNotReady. keep
// leaves the condition's lastTransitionTime as it is.
func (h *syncHarness) markNodeNotReady(p *skiffv1.Pod, keep bool) {
	h.t.Helper()
	_, err := h.c.Pods().ModifyStatus(h.ctx(), p.Metadata.Namespace, p.Metadata.Name, func(cur *skiffv1.Pod) error {
		r := skiffv1.FindCondition(cur.GetStatus().GetConditions(), skiffv1.PodReady)
		if r == nil {
			h.t.Fatalf("pod %s has no Ready condition to mark", p.Metadata.Name)
		}
		r.Status, r.Reason, r.Message = skiffv1.ConditionFalse, skiffv1.ReasonNodeNotReady, "Node is not ready"
		if !keep {
			r.LastTransitionTime = nil
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *syncHarness) ready(p *skiffv1.Pod) *skiffv1.Condition {
	h.t.Helper()
	return skiffv1.FindCondition(h.status(p).GetConditions(), skiffv1.PodReady)
}

// After a partition the stored Ready says what the controller wrote, not
// what the agent last wrote: the agent's next sync, with nothing changed
// on the node, writes the status it sees again.
func TestSyncRestoresReadyMarkedByController(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	p := h.pod("web", "")
	st := newPodState()
	h.sync(p, st)
	h.sync(p, st) // started, then ready (no readiness probe)
	if r := h.ready(p); r.GetStatus() != skiffv1.ConditionTrue {
		t.Fatalf("Ready %v of a running pod: want True", r)
	}
	h.markNodeNotReady(p, false)
	h.sync(p, st)
	if r := h.ready(p); r.GetStatus() != skiffv1.ConditionTrue || r.GetReason() != "" || r.GetMessage() != "" {
		t.Fatalf("Ready %v after the node came back: want True, as the agent sees it", r)
	}
	if cr := skiffv1.FindCondition(h.status(p).GetConditions(), skiffv1.ContainersReady); cr.GetStatus() != skiffv1.ConditionTrue {
		t.Fatalf("ContainersReady %v: want True", cr)
	}
	// Another sync, nothing changed anywhere: nothing to write.
	before := h.resourceVersion(p)
	h.sync(p, st)
	if after := h.resourceVersion(p); after != before {
		t.Fatalf("a sync with nothing changed wrote the status (resourceVersion %s → %s)", before, after)
	}
}

// The same when the agent's status is False for its own reason (a crash
// loop) and only the reason was overwritten: the computed status equals
// the agent's last write, and it still writes its reason back.
func TestSyncRestoresReasonOverwritten(t *testing.T) {
	h := newSyncHarness(t, time.Hour)
	p := h.pod("crash", "Always")
	st := newPodState()
	h.sync(p, st)
	h.rt.exit(runtime.ContainerID(p.Metadata.Uid, "app", 0), 1)
	h.sync(p, st)
	if r := h.ready(p); r.GetStatus() != skiffv1.ConditionFalse || r.GetReason() != skiffv1.ReasonContainersNotReady {
		t.Fatalf("Ready %v in a crash loop: want False, ContainersNotReady", r)
	}
	h.markNodeNotReady(p, true)
	h.sync(p, st)
	if r := h.ready(p); r.GetStatus() != skiffv1.ConditionFalse || r.GetReason() != skiffv1.ReasonContainersNotReady || r.GetMessage() != "" {
		t.Fatalf("Ready %v: want the agent's False, ContainersNotReady back", r)
	}
}

func (h *syncHarness) resourceVersion(p *skiffv1.Pod) string {
	h.t.Helper()
	cur, err := h.c.Pods().Get(h.ctx(), p.Metadata.Namespace, p.Metadata.Name)
	if err != nil {
		h.t.Fatal(err)
	}
	return cur.GetMetadata().GetResourceVersion()
}
