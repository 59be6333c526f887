// Package scheduler binds pending pods to nodes.
//
// A Scheduler watches pods, nodes and volumes through informers, keeps a
// cache of what every node already holds (including pods it has assumed but
// whose Bind has not come back yet), pops pending pods from a queue ordered
// by priority then age, and asks an Algorithm — a chain of small Filter and
// Scorer plugins assembled in NewAlgorithm — for a node. The decision is pure
// (no I/O, deterministic for a given snapshot: ties are broken by a hash of
// the pod's UID), so it is tested and benchmarked without a server. Binding
// is asynchronous; pods that fit nowhere get a PodScheduled=False condition
// with a "0/N nodes are available: …" message and wait until the cluster
// changes. See README.md for the pipeline.
package scheduler
