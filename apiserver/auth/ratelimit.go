package auth

import (
	"fmt"
	"sync"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skiff-sh/skiff/pki"
)

// Default limits of the events a node creates: a crash-looping pod records
// a few a minute, a node coming up a few dozen at once.
const (
	defaultEventRate  = 5
	defaultEventBurst = 100
)

// nodeLimiters holds one token bucket per node.
type nodeLimiters struct {
	mu     sync.Mutex
	byNode map[string]*rate.Limiter
}

func (l *nodeLimiters) get(node string, r float64, burst int) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byNode == nil {
		l.byNode = map[string]*rate.Limiter{}
	}
	lim, ok := l.byNode[node]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(r), burst)
		l.byNode[node] = lim
	}
	return lim
}

// takeEventToken refuses an event beyond the node's rate with
// ResourceExhausted, so one node cannot fill etcd with events.
func (a *Authorizer) takeEventToken(id pki.Identity, node, method string, t Target) error {
	r, burst := a.EventRate, a.EventBurst
	if r <= 0 {
		r = defaultEventRate
	}
	if burst <= 0 {
		burst = defaultEventBurst
	}
	if a.eventLimits.get(node, r, burst).Allow() {
		return nil
	}
	return status.Error(codes.ResourceExhausted, fmt.Sprintf("%s may not %s %s: a node records at most %g events a second (bursts of %d)", id.Name, verb(method), t, r, burst))
}
