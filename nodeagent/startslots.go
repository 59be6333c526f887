package nodeagent

import (
	"context"
	goruntime "runtime"
)

// startSlots bounds how many pods make a sandbox or create a container at
// once. That work is mostly CPU (forks, mounts, namespaces, netlink): with
// a burst of pods all progressing together every pod waits for the whole
// burst, while a few at a time the first are Running early and the total
// is no longer. Two per CPU, not one: a start also waits (for its
// supervisor, the kernel's namespace work), and with one per CPU the CPUs
// idled through a 200-pod burst, which then took 13–21 % longer. Pulls
// wait outside the slots, so a slow registry holds none.
type startSlots chan struct{}

func newStartSlots() startSlots { return make(startSlots, max(2, 2*goruntime.NumCPU())) }

// acquire waits for a slot; release it when done. A nil startSlots (an
// Agent made by hand in a unit test) does not bound anything.
func (s startSlots) acquire(ctx context.Context) (release func(), err error) {
	if s == nil {
		return func() {}, nil
	}
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
