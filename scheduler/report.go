package scheduler

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

const (
	conditionScheduled  = skiffv1.PodScheduled
	reasonUnschedulable = skiffv1.ReasonUnschedulable
	eventFailed         = "FailedScheduling"
	reportTimeout       = 10 * time.Second
)

// reportUnschedulable tells the pod's owner why it waits: the PodScheduled
// condition carries the latest message (written only when it changes), and
// one FailedScheduling event is made per pod, not per retry. A pod that
// already has the condition (from an earlier run or another leader) has had
// its event. The writes run on their own goroutine.
func (r *run) reportUnschedulable(ctx context.Context, pod *skiffv1.Pod, fe *FitError) {
	msg := fe.Error()
	uid := pod.GetMetadata().GetUid()
	r.reportMu.Lock()
	last, seen := r.reported[uid]
	r.reported[uid] = msg
	r.reportMu.Unlock()
	if seen && last == msg {
		return
	}
	cond := unschedulableCondition(pod)
	if cond != nil && cond.GetMessage() == msg {
		return
	}
	sendEvent := !seen && cond == nil
	if !seen {
		r.log.Info("pod unschedulable", "pod", podKey(pod), "why", msg)
	}
	select {
	case r.reports <- struct{}{}:
	case <-ctx.Done():
		return
	}
	r.inflight.Add(1)
	go func() {
		defer r.inflight.Done()
		defer func() { <-r.reports }()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
		defer cancel()
		if err := r.writeCondition(wctx, pod, msg); err != nil {
			r.log.Warn("could not record why a pod is unschedulable", "pod", podKey(pod), "err", err)
			r.reportMu.Lock()
			delete(r.reported, uid) // try again on the next failure
			r.reportMu.Unlock()
			return
		}
		if sendEvent {
			if err := r.writeEvent(wctx, pod, msg); err != nil {
				r.log.Warn("could not record a FailedScheduling event", "pod", podKey(pod), "err", err)
			}
		}
	}()
}

// forgetReport drops what was reported for a pod that was bound or deleted.
func (r *run) forgetReport(p *skiffv1.Pod) {
	r.reportMu.Lock()
	delete(r.reported, p.GetMetadata().GetUid())
	r.reportMu.Unlock()
}

func unschedulableCondition(p *skiffv1.Pod) *skiffv1.Condition {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == conditionScheduled && c.GetStatus() == skiffv1.ConditionFalse && c.GetReason() == reasonUnschedulable {
			return c
		}
	}
	return nil
}

func (r *run) writeCondition(ctx context.Context, pod *skiffv1.Pod, msg string) error {
	m := pod.GetMetadata()
	_, err := r.cfg.Client.Pods().ModifyStatus(ctx, m.GetNamespace(), m.GetName(), func(p *skiffv1.Pod) error {
		if p.GetMetadata().GetUid() != m.GetUid() || p.GetSpec().GetNodeName() != "" {
			return client.ErrNoChange // replaced, or bound meanwhile
		}
		if p.Status == nil {
			p.Status = &skiffv1.PodStatus{}
		}
		now := timestamppb.Now()
		for _, c := range p.Status.Conditions {
			if c.GetType() == conditionScheduled {
				if c.GetStatus() == skiffv1.ConditionFalse && c.GetReason() == reasonUnschedulable && c.GetMessage() == msg {
					return client.ErrNoChange
				}
				if c.GetStatus() != skiffv1.ConditionFalse {
					c.LastTransitionTime = now
				}
				c.Status, c.Reason, c.Message = skiffv1.ConditionFalse, reasonUnschedulable, msg
				return nil
			}
		}
		p.Status.Conditions = append(p.Status.Conditions, &skiffv1.Condition{
			Type: conditionScheduled, Status: skiffv1.ConditionFalse, Reason: reasonUnschedulable, Message: msg, LastTransitionTime: now,
		})
		return nil
	})
	if client.IsNotFound(err) {
		return nil
	}
	return err
}

func (r *run) writeEvent(ctx context.Context, pod *skiffv1.Pod, msg string) error {
	m := pod.GetMetadata()
	now := timestamppb.Now()
	_, err := r.cfg.Client.Events().Create(ctx, &skiffv1.Event{
		Metadata: &skiffv1.ObjectMeta{
			// Unique like kube's "<pod>.<hex time>".
			Name:      fmt.Sprintf("%s.%x", m.GetName(), time.Now().UnixNano()),
			Namespace: m.GetNamespace(),
		},
		InvolvedObject: &skiffv1.ObjectReference{Kind: "Pod", Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid()},
		Type:           "Warning",
		Reason:         eventFailed,
		Message:        msg,
		Source:         r.cfg.Name,
		Count:          1,
		FirstTimestamp: now,
		LastTimestamp:  now,
	})
	return err
}
