package nodeagent

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// event records what happened to a pod, for `skiff describe`. Failing to
// record one is logged, never fatal.
func (a *Agent) event(ctx context.Context, pod *skiffv1.Pod, typ, reason, msg string) {
	now := time.Now()
	ev := &skiffv1.Event{
		Metadata: &skiffv1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", pod.Metadata.Name, now.UnixNano()),
			Namespace: pod.Metadata.Namespace,
		},
		InvolvedObject: &skiffv1.ObjectReference{Kind: "Pod", Namespace: pod.Metadata.Namespace, Name: pod.Metadata.Name, Uid: pod.Metadata.Uid},
		Type:           typ, Reason: reason, Message: msg,
		Source:         "agent/" + a.cfg.NodeName,
		Count:          1,
		FirstTimestamp: timestamppb.New(now), LastTimestamp: timestamppb.New(now),
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := a.cfg.Client.Events().Create(ctx, ev); err != nil {
		a.log.Debug("event not recorded", "reason", reason, "err", err)
	}
}
