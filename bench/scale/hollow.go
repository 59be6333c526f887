package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/client/nodelease"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

func nodeName(i int) string { return fmt.Sprintf("hollow-%05d", i) }

// registerNodes creates the Node objects as agents do, 32 at a time.
func registerNodes(ctx context.Context, c *client.Client, n int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			now := timestamppb.Now()
			_, err := c.Nodes().Create(gctx, &skiffv1.Node{
				Metadata: &skiffv1.ObjectMeta{Name: nodeName(i), Labels: map[string]string{"skiff.io/hostname": nodeName(i), "skiff.io/os": "linux", skiffv1.LabelHostname: nodeName(i)}},
				Status: &skiffv1.NodeStatus{
					Capacity:    map[string]string{"cpu": "32", "memory": "256Gi", "pods": "110"},
					Allocatable: map[string]string{"cpu": "32", "memory": "256Gi", "pods": "110"},
					Conditions: []*skiffv1.Condition{{Type: skiffv1.NodeReady, Status: skiffv1.ConditionTrue, Reason: "AgentReady",
						LastHeartbeatTime: now, LastTransitionTime: now}},
					Addresses:     []*skiffv1.NodeAddress{{Type: "InternalIP", Address: "127.0.0.1"}},
					AgentEndpoint: "127.0.0.1:1",
				},
			})
			return err
		})
	}
	return g.Wait()
}

func beatKind(o options) string {
	if o.nodeWrites {
		return "a Node status write each"
	}
	return "a Lease renewal each, Node status on change"
}

// hollowNode beats as an agent does (nodeagent/node.go heartbeat): it
// renews its Lease every interval and writes its Node's status only when
// it is due (every 5 minutes; a hollow node's pods never change its
// status). With nodeWrites it writes the Node's status every beat, as
// agents did before Leases.
type hollowNode struct {
	c                     *client.Client
	name                  string
	every                 time.Duration
	nodeWrites            bool
	lease                 *nodelease.Renewer
	lastStatus            time.Time
	beats, writes, failed *atomic.Int64
}

// run beats at a random phase so the nodes do not beat together.
func (h *hollowNode) run(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(rand.N(h.every)):
	}
	h.lastStatus = time.Now() // registered just now
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		if err := h.beat(ctx, time.Now()); err != nil {
			if ctx.Err() != nil {
				return
			}
			h.failed.Add(1)
			failures.note(err)
		} else {
			h.beats.Add(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *hollowNode) beat(ctx context.Context, now time.Time) error {
	bctx, cancel := context.WithTimeout(ctx, h.every)
	defer cancel()
	if !h.nodeWrites {
		if err := h.lease.Renew(bctx, now); err != nil {
			return err
		}
		h.writes.Add(1)
		if now.Sub(h.lastStatus) < 5*time.Minute {
			return nil
		}
	}
	_, err := h.c.Nodes().ModifyStatus(bctx, "", h.name, func(n *skiffv1.Node) error {
		if n.Status == nil {
			n.Status = &skiffv1.NodeStatus{}
		}
		skiffv1.SetCondition(&n.Status.Conditions, &skiffv1.Condition{Type: skiffv1.NodeReady, Status: skiffv1.ConditionTrue,
			Reason: "AgentReady", LastHeartbeatTime: timestamppb.New(now), LastTransitionTime: timestamppb.New(now)}, now)
		return nil
	})
	if err == nil {
		h.writes.Add(1)
		h.lastStatus = now
	}
	return err
}

// failures tallies failed beats by gRPC code, for the report.
var failures = &failureTally{byCode: map[codes.Code]int{}}

type failureTally struct {
	mu     sync.Mutex
	byCode map[codes.Code]int
	first  map[codes.Code]string
}

func (f *failureTally) note(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := status.Code(err)
	if f.first == nil {
		f.first = map[codes.Code]string{}
	}
	if f.byCode[c] == 0 {
		f.first[c] = err.Error()
	}
	f.byCode[c]++
}

func (f *failureTally) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var parts []string
	for c, n := range f.byCode {
		parts = append(parts, fmt.Sprintf("%s %d (first: %.120s)", c, n, f.first[c]))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}
