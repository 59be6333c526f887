package controller

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/controller/servicelb"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// serviceLB writes the status.loadBalancer of every LoadBalancer service
// skiff's own load balancer serves (see package servicelb): the nodes'
// addresses, or none while an older service holds one of its ports, with
// a Warning event naming that service. A service of another class is left
// to its implementation.
type serviceLB struct {
	c        *client.Client
	services *client.SharedInformer[*skiffv1.Service]
	nodes    *client.SharedInformer[*skiffv1.Node]
	rec      *recorder
	log      *slog.Logger
	r        *reconciler

	mu sync.Mutex
	// warned is the conflict last reported per service, so that a
	// pending service is told once, not at every sync.
	warned map[string]servicelb.Conflict
}

func newServiceLB(cfg *Config, inf *informers, m *metrics, rec *recorder) *serviceLB {
	l := &serviceLB{
		c: cfg.Client, services: inf.services, nodes: inf.nodes, rec: rec,
		log: cfg.Logger.With("controller", nameServiceLB), warned: map[string]servicelb.Conflict{},
	}
	l.r = newReconciler(nameServiceLB, cfg.Workers, cfg.Logger, m, l.sync)
	// One service coming, going or changing its ports may hold or free a
	// port another waits for: every LoadBalancer service is looked at.
	changed := func(ss ...*skiffv1.Service) {
		for _, s := range ss {
			if s.GetSpec().GetType() == skiffv1.ServiceTypeLoadBalancer {
				l.queueAll()
				return
			}
		}
	}
	inf.services.AddHandler(client.Handler[*skiffv1.Service]{
		OnAdd: func(s *skiffv1.Service) { changed(s) },
		OnUpdate: func(old, s *skiffv1.Service) {
			if sameClaim(old, s) {
				// A status written (ours) or a field no port depends
				// on: only this service may need a look.
				if skiffv1.ServedBySkiffLB(s.GetSpec()) {
					l.r.queue.Add(client.KeyOf(s))
				}
				return
			}
			changed(old, s)
		},
		OnDelete: func(s *skiffv1.Service) { changed(s) },
	})
	nodesChanged := func(old, n *skiffv1.Node) {
		if !slices.Equal(servicelb.NodeAddresses([]*skiffv1.Node{old}), servicelb.NodeAddresses([]*skiffv1.Node{n})) {
			l.queueAll()
		}
	}
	inf.nodes.AddHandler(client.Handler[*skiffv1.Node]{
		OnAdd:    func(n *skiffv1.Node) { nodesChanged(nil, n) },
		OnUpdate: nodesChanged,
		OnDelete: func(n *skiffv1.Node) { nodesChanged(n, nil) },
	})
	return l
}

// sameClaim: the two versions of a service want the same ports of the
// load balancer.
func sameClaim(a, b *skiffv1.Service) bool {
	return skiffv1.ServedBySkiffLB(a.GetSpec()) == skiffv1.ServedBySkiffLB(b.GetSpec()) &&
		(a.GetMetadata().GetDeletionTimestamp() == nil) == (b.GetMetadata().GetDeletionTimestamp() == nil) &&
		slices.EqualFunc(a.GetSpec().GetPorts(), b.GetSpec().GetPorts(), func(x, y *skiffv1.ServicePort) bool {
			return x.GetPort() == y.GetPort() && x.GetProtocol() == y.GetProtocol()
		})
}

func (l *serviceLB) queueAll() {
	for _, s := range l.services.List() {
		if skiffv1.ServedBySkiffLB(s.GetSpec()) {
			l.r.queue.Add(client.KeyOf(s))
		}
	}
}

// sync writes the service's addresses when they differ from its status.
func (l *serviceLB) sync(ctx context.Context, key string) error {
	svc, ok := l.services.Get(key)
	if !ok || !skiffv1.ServedBySkiffLB(svc.GetSpec()) || svc.GetMetadata().GetDeletionTimestamp() != nil {
		l.mu.Lock()
		delete(l.warned, key)
		l.mu.Unlock()
		return nil
	}
	conflict, blocked := servicelb.Assign(l.services.List())[key]
	var want []*skiffv1.LoadBalancerIngress
	if !blocked {
		want = servicelb.Ingress(servicelb.NodeAddresses(l.nodes.List()))
	}
	l.mu.Lock()
	tell := blocked && l.warned[key] != conflict
	if blocked {
		l.warned[key] = conflict
	} else {
		delete(l.warned, key)
	}
	l.mu.Unlock()
	if tell {
		l.rec.event(ctx, "Service", svc, "Warning", "PortInUse", "%s", conflict)
	}
	if servicelb.SameIngress(svc.GetStatus().GetLoadBalancer().GetIngress(), want) {
		return nil
	}
	next := proto.Clone(svc).(*skiffv1.Service)
	if next.Status == nil {
		next.Status = &skiffv1.ServiceStatus{}
	}
	next.Status.LoadBalancer = &skiffv1.LoadBalancerStatus{Ingress: want}
	cctx, cancel := call(ctx)
	defer cancel()
	_, err := l.c.Services().UpdateStatus(cctx, next)
	if client.IsNotFound(err) {
		return nil
	}
	return err // a conflict comes back through the queue, re-read from the cache
}
