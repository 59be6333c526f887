package controller

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// endpoints keeps one Endpoints object per service with a selector, named
// after the service and owned by it, listing the pods the service selects
// (see desiredSlices). DNS follows these objects rather than evaluating
// selectors itself. A service without a selector is left alone: its
// Endpoints, if any, are the user's, as in Kubernetes.
type endpoints struct {
	c        *client.Client
	services *client.SharedInformer[*skiffv1.Service]
	pods     *client.SharedInformer[*skiffv1.Pod]
	nodes    *client.SharedInformer[*skiffv1.Node]
	eps      *client.SharedInformer[*skiffv1.Endpoints]
	log      *slog.Logger
	r        *reconciler
}

func newEndpoints(cfg *Config, inf *informers, m *metrics) *endpoints {
	e := &endpoints{
		c: cfg.Client, services: inf.services, pods: inf.pods, nodes: inf.nodes, eps: inf.endpoints,
		log: cfg.Logger.With("controller", nameEndpoints),
	}
	e.r = newReconciler(nameEndpoints, cfg.Workers, cfg.Logger, m, e.sync)
	inf.services.AddHandler(client.Handler[*skiffv1.Service]{
		OnAdd:    func(s *skiffv1.Service) { e.r.queue.Add(client.KeyOf(s)) },
		OnUpdate: func(_, s *skiffv1.Service) { e.r.queue.Add(client.KeyOf(s)) },
		OnDelete: func(s *skiffv1.Service) { e.r.queue.Add(client.KeyOf(s)) },
	})
	inf.pods.AddHandler(client.Handler[*skiffv1.Pod]{
		OnAdd:    func(p *skiffv1.Pod) { e.podChanged(nil, p) },
		OnUpdate: e.podChanged,
		OnDelete: func(p *skiffv1.Pod) { e.podChanged(p, nil) },
	})
	// A node going NotReady (or Unknown: unreachable) takes its pods out of
	// the ready endpoints, as Kubernetes does, and back when it recovers.
	inf.nodes.AddHandler(client.Handler[*skiffv1.Node]{
		OnUpdate: func(old, n *skiffv1.Node) {
			if nodeServes(old) != nodeServes(n) {
				for _, p := range e.pods.ByIndex(indexNode, n.GetMetadata().GetName()) {
					e.podChanged(nil, p)
				}
			}
		},
	})
	// Someone else changing or deleting an Endpoints object a service of
	// ours owns: put it back.
	inf.endpoints.AddHandler(client.Handler[*skiffv1.Endpoints]{
		OnUpdate: func(_, ep *skiffv1.Endpoints) { e.r.queue.Add(client.KeyOf(ep)) },
		OnDelete: func(ep *skiffv1.Endpoints) { e.r.queue.Add(client.KeyOf(ep)) },
	})
	return e
}

// podChanged queues the services that select the old or the new version of
// a pod (old or p is nil for an add or a delete). A change no Endpoints
// object shows (a restart count, a heartbeat) queues nothing.
func (e *endpoints) podChanged(old, p *skiffv1.Pod) {
	if old != nil && p != nil && !endpointRelevantChange(old, p) {
		return
	}
	for _, q := range []*skiffv1.Pod{old, p} {
		if q == nil {
			continue
		}
		for _, s := range e.services.ByIndex(indexNamespace, q.GetMetadata().GetNamespace()) {
			if selectsPod(s, q) {
				e.r.queue.Add(client.KeyOf(s))
			}
		}
	}
}

func endpointRelevantChange(old, p *skiffv1.Pod) bool {
	return old.GetStatus().GetPodIp() != p.GetStatus().GetPodIp() ||
		old.GetStatus().GetPhase() != p.GetStatus().GetPhase() ||
		skiffv1.IsPodReady(old) != skiffv1.IsPodReady(p) ||
		(old.GetMetadata().GetDeletionTimestamp() == nil) != (p.GetMetadata().GetDeletionTimestamp() == nil) ||
		old.GetSpec().GetNodeName() != p.GetSpec().GetNodeName() ||
		!maps.Equal(old.GetMetadata().GetLabels(), p.GetMetadata().GetLabels())
}

// sync makes the service's Endpoints object list what its selector picks
// now, writing only when that differs from what is stored.
func (e *endpoints) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/") // services are in namespaces
	svc, ok := e.services.Get(key)
	cur, have := e.eps.Get(key)
	if !ok {
		// The garbage collector would remove it too (it is owned); removing
		// it now keeps DNS from serving a deleted service's pods meanwhile.
		if have && ownedBy(cur, "") {
			return e.delete(ctx, ns, name)
		}
		return nil
	}
	if len(svc.GetSpec().GetSelector()) == 0 || svc.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	want := desiredSlices(svc, e.pods.ByIndex(indexNamespace, ns), e.nodeServes)
	if !have {
		ep := &skiffv1.Endpoints{
			Metadata: &skiffv1.ObjectMeta{
				Namespace: ns, Name: name,
				Labels: map[string]string{labelServiceName: name},
				OwnerReferences: []*skiffv1.OwnerReference{{
					Kind: "Service", Name: name, Uid: svc.GetMetadata().GetUid(), Controller: true,
				}},
			},
			Slices: want,
		}
		cctx, cancel := call(ctx)
		defer cancel()
		_, err := e.c.Endpoints().Create(cctx, ep)
		return err
	}
	if !ownedBy(cur, svc.GetMetadata().GetUid()) {
		e.log.Debug("endpoints object is not this service's; leaving it", "key", key)
		return nil
	}
	if slices.EqualFunc(cur.GetSlices(), want, func(a, b *skiffv1.EndpointSlice) bool { return proto.Equal(a, b) }) {
		return nil
	}
	next := proto.Clone(cur).(*skiffv1.Endpoints)
	next.Slices = want
	cctx, cancel := call(ctx)
	defer cancel()
	_, err := e.c.Endpoints().Update(cctx, next)
	return err // a conflict comes back through the queue, re-read from the cache
}

func (e *endpoints) delete(ctx context.Context, ns, name string) error {
	cctx, cancel := call(ctx)
	defer cancel()
	_, _, err := e.c.Endpoints().Delete(cctx, ns, name, client.DeleteOptions{})
	if client.IsNotFound(err) {
		return nil
	}
	return err
}

// nodeServes says whether pods on the named node may be ready endpoints:
// not when the node's Ready condition is False or Unknown. A node the
// cache does not know, or one that has not reported yet, is given the
// benefit of the doubt: its pods' own readiness decides.
func (e *endpoints) nodeServes(name string) bool {
	n, ok := e.nodes.Get(name)
	return !ok || nodeServes(n)
}

func nodeServes(n *skiffv1.Node) bool {
	c := skiffv1.FindCondition(n.GetStatus().GetConditions(), skiffv1.NodeReady)
	return c == nil || c.GetStatus() == skiffv1.ConditionTrue
}

// ownedBy: the object's controller reference is a Service's, with uid (any
// uid when uid is "").
func ownedBy(ep *skiffv1.Endpoints, uid string) bool {
	ref := controllerRef(ep.GetMetadata())
	return ref != nil && ref.GetKind() == "Service" && (uid == "" || ref.GetUid() == uid)
}
