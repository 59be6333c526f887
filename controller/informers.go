package controller

import (
	"context"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// informers are the caches the controllers share: one list+watch per kind.
// Volumes are watched for the garbage collector, the StatefulSet
// controller and the volume binder.
type informers struct {
	pods        *client.Informer[*skiffv1.Pod]
	rss         *client.Informer[*skiffv1.ReplicaSet]
	nodes       *client.Informer[*skiffv1.Node]
	autoscalers *client.Informer[*skiffv1.Autoscaler]
	services    *client.Informer[*skiffv1.Service]
	volumes     *client.Informer[*skiffv1.Volume]
	deployments *client.Informer[*skiffv1.Deployment]
	endpoints   *client.Informer[*skiffv1.Endpoints]
	jobs        *client.Informer[*skiffv1.Job]
	cronJobs    *client.Informer[*skiffv1.CronJob]
	daemonSets  *client.Informer[*skiffv1.DaemonSet]
	statefuls   *client.Informer[*skiffv1.StatefulSet]
	pvs         *client.Informer[*skiffv1.PersistentVolume]
	// leases are the nodes' heartbeats, in kube-node-lease only.
	leases *client.Informer[*skiffv1.Lease]
}

func newInformers(c *client.Client, log *slog.Logger) *informers {
	all := client.ListOptions{}
	inf := &informers{
		pods:        client.NewInformer(c.Pods(), all, log),
		rss:         client.NewInformer(c.ReplicaSets(), all, log),
		nodes:       client.NewInformer(c.Nodes(), all, log),
		autoscalers: client.NewInformer(c.Autoscalers(), all, log),
		services:    client.NewInformer(c.Services(), all, log),
		volumes:     client.NewInformer(c.Volumes(), all, log),
		deployments: client.NewInformer(c.Deployments(), all, log),
		endpoints:   client.NewInformer(c.Endpoints(), all, log),
		jobs:        client.NewInformer(c.Jobs(), all, log),
		cronJobs:    client.NewInformer(c.CronJobs(), all, log),
		daemonSets:  client.NewInformer(c.DaemonSets(), all, log),
		statefuls:   client.NewInformer(c.StatefulSets(), all, log),
		pvs:         client.NewInformer(c.PersistentVolumes(), all, log),
		leases:      client.NewInformer(c.Leases(), client.ListOptions{Namespace: defaults.NodeLeaseNamespace}, log),
	}
	inf.pods.AddIndex(indexNamespace, byNamespace[*skiffv1.Pod])
	inf.pods.AddIndex(indexNode, byNode)
	inf.pods.AddIndex(indexOwner, byOwner[*skiffv1.Pod])
	inf.rss.AddIndex(indexNamespace, byNamespace[*skiffv1.ReplicaSet])
	inf.rss.AddIndex(indexOwner, byOwner[*skiffv1.ReplicaSet])
	inf.autoscalers.AddIndex(indexOwner, byOwner[*skiffv1.Autoscaler])
	inf.services.AddIndex(indexOwner, byOwner[*skiffv1.Service])
	inf.services.AddIndex(indexNamespace, byNamespace[*skiffv1.Service])
	inf.endpoints.AddIndex(indexOwner, byOwner[*skiffv1.Endpoints])
	inf.volumes.AddIndex(indexOwner, byOwner[*skiffv1.Volume])
	inf.deployments.AddIndex(indexNamespace, byNamespace[*skiffv1.Deployment])
	inf.jobs.AddIndex(indexOwner, byOwner[*skiffv1.Job])
	inf.daemonSets.AddIndex(indexOwner, byOwner[*skiffv1.DaemonSet])
	inf.statefuls.AddIndex(indexOwner, byOwner[*skiffv1.StatefulSet])
	inf.leases.AddIndex(indexOwner, byOwner[*skiffv1.Lease])
	return inf
}

// start runs every informer in g until ctx ends.
func (inf *informers) start(ctx context.Context, g *errgroup.Group) {
	g.Go(func() error { return inf.pods.Run(ctx) })
	g.Go(func() error { return inf.rss.Run(ctx) })
	g.Go(func() error { return inf.nodes.Run(ctx) })
	g.Go(func() error { return inf.autoscalers.Run(ctx) })
	g.Go(func() error { return inf.services.Run(ctx) })
	g.Go(func() error { return inf.volumes.Run(ctx) })
	g.Go(func() error { return inf.deployments.Run(ctx) })
	g.Go(func() error { return inf.endpoints.Run(ctx) })
	g.Go(func() error { return inf.jobs.Run(ctx) })
	g.Go(func() error { return inf.cronJobs.Run(ctx) })
	g.Go(func() error { return inf.daemonSets.Run(ctx) })
	g.Go(func() error { return inf.statefuls.Run(ctx) })
	g.Go(func() error { return inf.pvs.Run(ctx) })
	g.Go(func() error { return inf.leases.Run(ctx) })
}

// waitForSync blocks until every informer has its first list, or ctx ends.
func (inf *informers) waitForSync(ctx context.Context) bool {
	return inf.pods.WaitForSync(ctx) && inf.rss.WaitForSync(ctx) && inf.nodes.WaitForSync(ctx) &&
		inf.autoscalers.WaitForSync(ctx) && inf.services.WaitForSync(ctx) && inf.volumes.WaitForSync(ctx) &&
		inf.deployments.WaitForSync(ctx) && inf.endpoints.WaitForSync(ctx) &&
		inf.jobs.WaitForSync(ctx) && inf.cronJobs.WaitForSync(ctx) && inf.daemonSets.WaitForSync(ctx) && inf.statefuls.WaitForSync(ctx) && inf.pvs.WaitForSync(ctx) &&
		inf.leases.WaitForSync(ctx)
}
