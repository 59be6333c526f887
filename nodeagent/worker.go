package nodeagent

import (
	"context"
	"sync"
	"time"

	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// podWorker owns one pod: it alone touches the pod's sandbox and containers,
// so pods never wait on each other. Newer desired state replaces older state
// not yet looked at (a one-slot mailbox), like the kubelet's pod workers.
type podWorker struct {
	a   *Agent
	uid string

	mailbox  chan *skiffv1.Pod
	gone     chan struct{} // the pod left the API: tear down and end
	quit     chan struct{} // the agent stops: end, leave containers running
	goneOnce sync.Once
	quitOnce sync.Once

	state *podState
}

func newPodWorker(a *Agent, uid string) *podWorker {
	return &podWorker{
		a: a, uid: uid,
		mailbox: make(chan *skiffv1.Pod, 1),
		gone:    make(chan struct{}),
		quit:    make(chan struct{}),
		state:   newPodState(),
	}
}

// update replaces whatever the worker has not picked up yet.
func (w *podWorker) update(p *skiffv1.Pod) {
	select {
	case <-w.mailbox:
	default:
	}
	w.mailbox <- p
}

func (w *podWorker) remove() { w.goneOnce.Do(func() { close(w.gone) }) }

// stopped reports whether the agent told the worker to stop.
func (w *podWorker) stopped() bool {
	select {
	case <-w.quit:
		return true
	default:
		return false
	}
}
func (w *podWorker) stop() { w.quitOnce.Do(func() { close(w.quit) }) }

func (w *podWorker) run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(w.a.cfg.ResyncInterval)
	defer t.Stop()
	var pod *skiffv1.Pod
	for {
		select {
		case <-w.quit:
			return
		case <-w.gone:
			// Deleted with force from the API: stop at once.
			if err := w.a.teardownPod(ctx, w.uid, 0); err != nil {
				w.a.log.Warn("teardown", "pod_uid", w.uid, "err", err)
			}
			return
		case p := <-w.mailbox:
			pod = p
		case <-t.C:
			if pod == nil {
				continue
			}
		}
		done, err := w.a.syncPod(ctx, pod, w.state)
		if err != nil && ctx.Err() == nil {
			w.a.log.Warn("pod sync", "pod", pod.GetMetadata().GetNamespace()+"/"+pod.GetMetadata().GetName(), "err", err)
		}
		if done {
			return
		}
	}
}
