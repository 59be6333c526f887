package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// nodeNotReadyMessage is the pod Ready condition's message, and the pod
// event's, while its node is silent (Kubernetes' words).
const nodeNotReadyMessage = "Node is not ready"

// markPodsNotReady sets Ready=False on every pod of the silent node n that
// still says it is ready: nobody can vouch for them, so services drop
// them from their endpoints and `get pods` counts them unready, until the
// node's agent posts their real status again. It runs on every pass over a
// silent node, so a pod bound to it meanwhile is marked too.
func (nl *nodeLifecycle) markPodsNotReady(ctx context.Context, n *skiffv1.Node) error {
	name := n.GetMetadata().GetName()
	var errs []error
	for _, p := range nl.pods.ByIndex(indexNode, name) {
		if !needsNotReady(p, name) {
			continue
		}
		cctx, cancel := call(ctx)
		now := nl.now()
		wrote := false
		out, err := nl.c.Pods().ModifyStatus(cctx, p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), func(cur *skiffv1.Pod) error {
			wrote = false
			if cur.GetMetadata().GetUid() != p.GetMetadata().GetUid() || !needsNotReady(cur, name) {
				return client.ErrNoChange
			}
			wrote = true
			skiffv1.SetCondition(&cur.Status.Conditions, &skiffv1.Condition{
				Type: skiffv1.PodReady, Status: skiffv1.ConditionFalse,
				Reason: skiffv1.ReasonNodeNotReady, Message: nodeNotReadyMessage,
			}, now)
			return nil
		})
		cancel()
		switch {
		case client.IsNotFound(err):
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("nodelifecycle: mark pod %s not ready: %w", client.KeyOf(p), err))
			continue
		}
		if wrote {
			nl.log.Info("pod marked not ready: its node is silent", "pod", client.KeyOf(p), "node", name)
			nl.rec.event(ctx, "Pod", out, "Warning", skiffv1.ReasonNodeNotReady, nodeNotReadyMessage)
		}
	}
	return errors.Join(errs...)
}

// needsNotReady reports whether p, on node, has a Ready condition that is
// not False yet. As Kubernetes, a pod without one (never started) and a
// finished pod are left alone: they count as unready already.
func needsNotReady(p *skiffv1.Pod, node string) bool {
	if p.GetSpec().GetNodeName() != node || skiffv1.IsPodTerminal(p) {
		return false
	}
	r := skiffv1.FindCondition(p.GetStatus().GetConditions(), skiffv1.PodReady)
	return r != nil && r.GetStatus() != skiffv1.ConditionFalse
}
