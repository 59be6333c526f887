// Package controller runs skiff's level-triggered reconcilers: replica
// sets, deployments (their rollout arithmetic is package rollout), Jobs,
// DaemonSets, StatefulSets, endpoints, the garbage collector, node
// lifecycle, the autoscaler and skiff's own load balancer's statuses
// (ServiceLB; its decisions are package servicelb).
//
// Each reconciler is fed keys by informers (shared list+watch caches of the
// API server's objects) through a deduplicating work queue; its handler
// gets a key, re-reads the cached object and what it owns, and acts on the
// difference (Kubernetes' syncReplicaSet is the model). A handler error
// puts the key back after a per-key exponential back-off. A Manager builds
// them over one set of informers; run it under leader election so that one
// controller manager acts at a time.
//
//	informers ──handlers──▶ workqueue (keys) ──workers──▶ sync(key) ──▶ API server
package controller
