package nodeagent

import (
	"time"

	"github.com/skiff-sh/skiff/backoff"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// podState is what a pod's worker remembers between syncs; everything else
// is read again from the runtime and the API each time.
type podState struct {
	containers map[string]*containerState
	podIP      string
	// sandboxReady: this worker made or found the sandbox, network and
	// files; later syncs skip that work until something fails.
	sandboxReady bool
	lastStatus   *skiffv1.PodStatus
	// lastWrite is the resource version (store revision) the agent's
	// last status write gave the pod: a pod object older than that comes
	// from an informer that has not caught up with the write.
	lastWrite int64
	// runningSince is when every container first ran, for the start
	// latency metric.
	runningSeen bool
	// insts is the runtime's last word on the pod's containers. While
	// steady (every container running, and the worker waiting on each
	// one's exit), a sync uses it instead of reading the runtime again.
	insts  map[string][]instance
	steady bool
	// termMessages are the termination messages of exited instances by
	// container ID, read once each.
	termMessages map[string]string
	// initialized: every init container has succeeded; they are not run
	// again for this pod, unless its sandbox is replaced.
	initialized bool
	// sandboxReplaced is when the worker last gave the pod a new sandbox
	// because the one it had was gone (zero: never). Init containers that
	// ran before it run again. sandboxLooked: the worker's first sync
	// looked for a sandbox left from before (see lostSandbox);
	// sandboxLost: the sandbox is gone and, the pod's restartPolicy being
	// Never, none is made again.
	sandboxReplaced            time.Time
	sandboxLooked, sandboxLost bool
	// deadlineExceeded: activeDeadlineSeconds passed and the agent
	// stopped the pod for good.
	deadlineExceeded bool
	// configRefreshed is when the ConfigMap and Secret volumes were last
	// compared with their objects.
	configRefreshed time.Time
}

// containerState is the worker's memory of one container of the pod.
type containerState struct {
	// waiting is why the container is not running now (ContainerCreating,
	// ErrImagePull, ImagePullBackOff, CrashLoopBackOff, …), with message.
	waitingReason, waitingMessage string
	// backoff level and when the next start is allowed.
	backoffLevel int
	notBefore    time.Time
	// pull failures back off separately.
	pullFailures int
	imageID      string
	image        string
	// probes of the current instance.
	probeAttempt int
	liveness     probeState
	readiness    probeState
	ready        bool
	// started: the startup probe passed (or there is none); the other
	// probes wait for it.
	startup probeState
	started bool
	// killedBy is why the agent stopped the current instance (a probe,
	// a postStart hook); prevKilledBy, the previous instance.
	killedBy, prevKilledBy string
}

type probeState struct {
	successes, failures int
	lastRun             time.Time
}

// resetProbes starts the probes of a new instance of c afresh. Without a
// startup probe it has started, and without a readiness probe it is then
// ready at once, as the kubelet reports it: the status written right after
// the start already says so, instead of a second write a sync later.
func (c *containerState) resetProbes(spec *skiffv1.Container) {
	c.liveness, c.readiness, c.startup = probeState{}, probeState{}, probeState{}
	c.started = spec.StartupProbe == nil
	c.ready = c.started && spec.ReadinessProbe == nil
}

func newPodState() *podState { return &podState{containers: map[string]*containerState{}} }

func (s *podState) container(name string) *containerState {
	c, ok := s.containers[name]
	if !ok {
		c = &containerState{}
		s.containers[name] = c
	}
	return c
}

// nextBackoff is the delay before restart n (from 1) of a crashing
// container: base doubling to max.
func nextBackoff(level int, base, max time.Duration) time.Duration {
	return backoff.Exponential(base, max, level-1)
}
