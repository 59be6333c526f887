package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/skiff-sh/skiff/client"
	"github.com/skiff-sh/skiff/defaults"
	skiffv1 "github.com/skiff-sh/skiff/proto/skiff/v1"
)

// informers are the caches the controllers read: one list+watch per kind,
// taken from scope (the process's shared informers, or a Run's own).
// Volumes are watched for the garbage collector, the StatefulSet
// controller and the volume binder.
type informers struct {
	pods        *client.SharedInformer[*skiffv1.Pod]
	rss         *client.SharedInformer[*skiffv1.ReplicaSet]
	rcs         *client.SharedInformer[*skiffv1.ReplicationController]
	nodes       *client.SharedInformer[*skiffv1.Node]
	autoscalers *client.SharedInformer[*skiffv1.Autoscaler]
	services    *client.SharedInformer[*skiffv1.Service]
	volumes     *client.SharedInformer[*skiffv1.Volume]
	deployments *client.SharedInformer[*skiffv1.Deployment]
	endpoints   *client.SharedInformer[*skiffv1.Endpoints]
	jobs        *client.SharedInformer[*skiffv1.Job]
	cronJobs    *client.SharedInformer[*skiffv1.CronJob]
	daemonSets  *client.SharedInformer[*skiffv1.DaemonSet]
	statefuls   *client.SharedInformer[*skiffv1.StatefulSet]
	pvs         *client.SharedInformer[*skiffv1.PersistentVolume]
	// leases are the nodes' heartbeats, in kube-node-lease only.
	leases *client.SharedInformer[*skiffv1.Lease]
}

func newInformers(scope *client.InformerScope) (*informers, error) {
	all := client.ListOptions{}
	inf := &informers{
		pods:        client.Inform(scope, (*client.Client).Pods, all),
		rss:         client.Inform(scope, (*client.Client).ReplicaSets, all),
		rcs:         client.Inform(scope, (*client.Client).ReplicationControllers, all),
		nodes:       client.Inform(scope, (*client.Client).Nodes, all),
		autoscalers: client.Inform(scope, (*client.Client).Autoscalers, all),
		services:    client.Inform(scope, (*client.Client).Services, all),
		volumes:     client.Inform(scope, (*client.Client).Volumes, all),
		deployments: client.Inform(scope, (*client.Client).Deployments, all),
		endpoints:   client.Inform(scope, (*client.Client).Endpoints, all),
		jobs:        client.Inform(scope, (*client.Client).Jobs, all),
		cronJobs:    client.Inform(scope, (*client.Client).CronJobs, all),
		daemonSets:  client.Inform(scope, (*client.Client).DaemonSets, all),
		statefuls:   client.Inform(scope, (*client.Client).StatefulSets, all),
		pvs:         client.Inform(scope, (*client.Client).PersistentVolumes, all),
		leases:      client.Inform(scope, (*client.Client).Leases, client.ListOptions{Namespace: defaults.NodeLeaseNamespace}),
	}
	err := errors.Join(
		inf.pods.AddIndex(indexNamespace, byNamespace[*skiffv1.Pod]),
		inf.pods.AddIndex(indexNode, byNode),
		inf.pods.AddIndex(indexOwner, byOwner[*skiffv1.Pod]),
		inf.pods.AddIndex(indexOrphan, orphanByNamespace),
		inf.rss.AddIndex(indexNamespace, byNamespace[*skiffv1.ReplicaSet]),
		inf.rss.AddIndex(indexOwner, byOwner[*skiffv1.ReplicaSet]),
		inf.rcs.AddIndex(indexNamespace, byNamespace[*skiffv1.ReplicationController]),
		inf.rcs.AddIndex(indexOwner, byOwner[*skiffv1.ReplicationController]),
		inf.autoscalers.AddIndex(indexOwner, byOwner[*skiffv1.Autoscaler]),
		inf.services.AddIndex(indexOwner, byOwner[*skiffv1.Service]),
		inf.services.AddIndex(indexNamespace, byNamespace[*skiffv1.Service]),
		inf.endpoints.AddIndex(indexOwner, byOwner[*skiffv1.Endpoints]),
		inf.volumes.AddIndex(indexOwner, byOwner[*skiffv1.Volume]),
		inf.deployments.AddIndex(indexNamespace, byNamespace[*skiffv1.Deployment]),
		inf.jobs.AddIndex(indexOwner, byOwner[*skiffv1.Job]),
		inf.daemonSets.AddIndex(indexOwner, byOwner[*skiffv1.DaemonSet]),
		inf.statefuls.AddIndex(indexOwner, byOwner[*skiffv1.StatefulSet]),
		inf.leases.AddIndex(indexOwner, byOwner[*skiffv1.Lease]),
	)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	return inf, nil
}

// waitForSync blocks until every informer has its first list, or ctx ends.
func (inf *informers) waitForSync(ctx context.Context) bool {
	return inf.pods.WaitForSync(ctx) && inf.rss.WaitForSync(ctx) && inf.rcs.WaitForSync(ctx) && inf.nodes.WaitForSync(ctx) &&
		inf.autoscalers.WaitForSync(ctx) && inf.services.WaitForSync(ctx) && inf.volumes.WaitForSync(ctx) &&
		inf.deployments.WaitForSync(ctx) && inf.endpoints.WaitForSync(ctx) &&
		inf.jobs.WaitForSync(ctx) && inf.cronJobs.WaitForSync(ctx) && inf.daemonSets.WaitForSync(ctx) && inf.statefuls.WaitForSync(ctx) && inf.pvs.WaitForSync(ctx) &&
		inf.leases.WaitForSync(ctx)
}
