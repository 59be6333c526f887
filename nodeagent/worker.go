package nodeagent

import (
	"context"
	"sync"
	"time"

	"github.com/skiff-sh/skiff/nodeagent/runtime"
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

// removed reports whether the pod left the API.
func (w *podWorker) removed() bool {
	select {
	case <-w.gone:
		return true
	default:
		return false
	}
}

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
	// ctx ends when the agent stops; syncCtx also when the pod is deleted
	// with force, which cuts short a graceful termination in progress (a
	// grace period of minutes, a preStop hook): the teardown that follows
	// kills at once, as the kubelet does for a force-deleted pod.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	syncCtx, cancelSync := context.WithCancel(ctx)
	defer cancelSync()
	go func() {
		select {
		case <-w.quit:
			cancel()
			return
		case <-w.gone:
			cancelSync()
		case <-ctx.Done():
			return
		}
		select {
		case <-w.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(w.a.cfg.ResyncInterval)
	defer t.Stop()
	exits := &exitWatch{ids: map[string]bool{}, exited: make(chan struct{}, 1)}
	var pod *skiffv1.Pod
	for {
		select {
		case <-w.quit:
			return
		case <-w.gone:
			// Deleted with force from the API: stop at once, and keep at
			// it until everything is gone (or the agent stops; its next
			// start cleans up what is left).
			w.a.teardownUntilDone(ctx, w.uid)
			return
		case p := <-w.mailbox:
			pod = p
			w.state.steady = false
		case <-exits.exited:
			w.state.steady = false
			if pod == nil {
				continue
			}
		case <-t.C:
			if pod == nil {
				continue
			}
		}
		if w.state.steady && !exits.covers(w.state.insts) {
			w.state.steady = false // a wait failed: read the runtime
		}
		done, err := w.a.syncPod(syncCtx, pod, w.state)
		if err != nil && syncCtx.Err() == nil {
			w.a.log.Warn("pod sync", "pod", pod.GetMetadata().GetNamespace()+"/"+pod.GetMetadata().GetName(), "err", err)
		}
		if done {
			return
		}
		exits.watch(syncCtx, w.a.runtime, w.state.insts)
	}
}

// exitWatch waits for the end of each running container of a pod, which
// then wakes the pod's worker: a steady pod's syncs can trust what they
// last read from the runtime instead of reading it every second.
type exitWatch struct {
	mu     sync.Mutex
	ids    map[string]bool // containers waited on
	exited chan struct{}   // one slot: a container ended
}

// watch starts a wait for each running container not waited on yet.
func (e *exitWatch) watch(ctx context.Context, rt containerRuntime, insts map[string][]instance) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, list := range insts {
		in := latest(list)
		if in == nil || in.state.Status != runtime.StatusRunning || e.ids[in.state.ID] {
			continue
		}
		e.ids[in.state.ID] = true
		go func(id string) {
			_, err := rt.Wait(ctx, id)
			e.mu.Lock()
			delete(e.ids, id)
			e.mu.Unlock()
			if err != nil {
				// Not waited on any more: covers turns false and the
				// worker reads the runtime at its next resync. Waking
				// it now would retry the failing wait in a tight loop.
				return
			}
			select {
			case e.exited <- struct{}{}:
			default:
			}
		}(in.state.ID)
	}
}

// covers reports whether every running container in insts is waited on.
func (e *exitWatch) covers(insts map[string][]instance) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, list := range insts {
		if in := latest(list); in != nil && in.state.Status == runtime.StatusRunning && !e.ids[in.state.ID] {
			return false
		}
	}
	return true
}
