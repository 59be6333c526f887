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
	if a.events == nil {
		a.sendEvent(ctx, ev)
		return
	}
	select {
	case a.events <- ev:
	default:
		a.log.Debug("event not recorded: queue full", "reason", reason)
	}
}

// eventQueue is how many events may wait for the sender; more are dropped
// (events are best effort, as the kubelet's recorder's).
const eventQueue = 1024

// sendEvent writes one event to the API.
func (a *Agent) sendEvent(ctx context.Context, ev *skiffv1.Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := a.cfg.Client.Events().Create(ctx, ev); err != nil {
		a.log.Debug("event not recorded", "reason", ev.Reason, "err", err)
	}
}

// startEventSender writes queued events in the background: a pod worker
// no longer waits for an event's write (a round trip to the server and
// its store) before it writes the pod's status. The returned stop sends
// what is still queued, for up to two seconds, and returns.
func (a *Agent) startEventSender() (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case ev := <-a.events:
				a.sendEvent(context.Background(), ev)
			case <-quit:
				deadline := time.Now().Add(2 * time.Second)
				for time.Now().Before(deadline) {
					select {
					case ev := <-a.events:
						a.sendEvent(context.Background(), ev)
					default:
						return
					}
				}
				return
			}
		}
	}()
	return func() { close(quit); <-done }
}
